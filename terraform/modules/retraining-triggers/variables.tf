variable "name" {
  description = "Prefix of the names of the schedule, rule and role."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,40}$", var.name))
    error_message = "name must be 1-41 letters, digits, dots, hyphens or underscores."
  }
}

variable "pipeline_name" {
  description = "Name of the SageMaker pipeline (for descriptions)."
  type        = string
}

variable "pipeline_arn" {
  description = "ARN of the SageMaker pipeline the triggers start."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:pipeline/", var.pipeline_arn))
    error_message = "pipeline_arn must be a SageMaker pipeline ARN."
  }
}

variable "bucket_name" {
  description = "Artifact bucket whose data prefix holds the training data."
  type        = string
}

variable "data_prefix" {
  description = "Key prefix of the training data; new objects under it start the pipeline."
  type        = string
  default     = "data/"

  validation {
    condition     = can(regex("^[^/].*/$", var.data_prefix))
    error_message = "data_prefix must end with / and not start with one, e.g. data/."
  }
}

variable "schedule_expression" {
  description = "EventBridge Scheduler expression of the retraining, e.g. cron(0 6 * * ? *)."
  type        = string

  validation {
    condition     = can(regex("^(cron\\((\\S+\\s+){5}\\S+\\)|rate\\(\\d+ (minute|minutes|hour|hours|day|days)\\))$", var.schedule_expression))
    error_message = "schedule_expression must be cron(<6 fields>) or rate(<n> <unit>)."
  }
}

variable "schedule_timezone" {
  description = "Time zone of the schedule expression."
  type        = string
  default     = "UTC"
}

variable "pipeline_parameters" {
  description = "Pipeline parameters both triggers pass (InputDataUri is the data prefix unless given here)."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the schedule."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "tags" {
  description = "Tags for every resource the module creates that takes tags."
  type        = map(string)
  default     = {}
}
