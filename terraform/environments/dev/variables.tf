variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "project_name" {
  description = "Project name (pipeline, model package group, name prefix)."
  type        = string
}

variable "environment" {
  description = "dev or prod."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be dev or prod."
  }
}

variable "min_roc_auc" {
  description = "ROC AUC a model needs to be registered."
  type        = number

  validation {
    condition     = var.min_roc_auc >= 0 && var.min_roc_auc <= 1
    error_message = "min_roc_auc must be between 0 and 1."
  }
}

variable "retraining_schedule" {
  description = "EventBridge Scheduler expression of the scheduled retraining."
  type        = string
}

variable "retraining_timezone" {
  description = "Time zone of retraining_schedule."
  type        = string
  default     = "UTC"
}

variable "lambda_zip_path" {
  description = "The deploy Lambda's zip (default: build/deploy-lambda.zip at the repository root, built by make deploy-lambda)."
  type        = string
  default     = null
}

variable "aws_max_retries" {
  description = "How often the provider retries a failed AWS call (set low against a local endpoint)."
  type        = number
  default     = 25

  validation {
    condition     = var.aws_max_retries >= 0
    error_message = "aws_max_retries must be 0 or more."
  }
}

variable "s3_use_path_style" {
  description = "Address S3 as <endpoint>/<bucket> (a local endpoint such as the sandbox needs it)."
  type        = bool
  default     = false
}

variable "force_destroy" {
  description = "Let destroy delete the artifact bucket with its objects (sandboxes only)."
  type        = bool
  default     = false
}

variable "kms_deletion_window_in_days" {
  description = "Days a destroyed KMS key waits before deletion."
  type        = number
  default     = 30
}

variable "orchestration_enabled" {
  description = "Provision the orchestration state machine (terraform/modules/orchestration). It then owns deployment: the approval rule stops invoking the deploy Lambda."
  type        = bool
  default     = false
}

variable "orchestration_zip_path" {
  description = "orchestration/ zipped (default: build/orchestration-lambda.zip at the repository root, built by make deploy-lambda)."
  type        = string
  default     = null
}

variable "orchestration_poll_seconds" {
  description = "Seconds between the state machine's looks at the running pipeline."
  type        = number
  default     = 60
}
