variable "name" {
  description = "Project name: prefix of every name, and of the staging stack <name>-staging."
  type        = string

  validation {
    condition     = can(regex("^[a-z](-*[a-z0-9]){0,31}$", var.name))
    error_message = "name must be lower-case letters, digits and single hyphens, starting with a letter, at most 32 characters."
  }
}

variable "project_id" {
  description = "Project id the staging stack is tagged with."
  type        = string
  default     = "p-terraform"
}

variable "model_package_group_name" {
  description = "Model package group whose approvals deploy."
  type        = string
}

variable "bucket_name" {
  description = "Artifact bucket (data capture goes under it)."
  type        = string
}

variable "bucket_arn" {
  description = "ARN of the artifact bucket."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for the topic, the log group and the Lambda's environment."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "lambda_zip_path" {
  description = "The deploy Lambda's zip, built by `make deploy-lambda` (build/deploy-lambda.zip)."
  type        = string

  validation {
    condition     = endswith(var.lambda_zip_path, ".zip")
    error_message = "lambda_zip_path must name a .zip file (make deploy-lambda builds build/deploy-lambda.zip)."
  }
}

variable "log_retention_in_days" {
  description = "Days the Lambda's logs are kept."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, ..., 365, ..., 3653)."
  }
}

variable "tags" {
  description = "Tags for every resource the module creates."
  type        = map(string)
  default     = {}
}

variable "deploy_on_approval" {
  description = "Deploy on every approval in the registry (the rule invokes the Lambda). false when the orchestration module's state machine owns deployment: its Deploy state invokes the Lambda, and the rule only notifies the topic."
  type        = bool
  default     = true
}
