variable "project_name" {
  description = "Project name: the pipeline, the model package group and the prefix of every other name."
  type        = string

  validation {
    condition     = can(regex("^[a-z](-*[a-z0-9]){0,31}$", var.project_name))
    error_message = "project_name must be lower-case letters, digits and single hyphens, starting with a letter, at most 32 characters (as in codepipeline/foundation.yml)."
  }
}

variable "project_id" {
  description = "Project id the deployed stacks are tagged with."
  type        = string
  default     = "p-terraform"
}

variable "environment" {
  description = "dev or prod: picks the rendered pipeline definition (modelbuild/pipelines/churn/config/<environment>.json)."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be dev or prod."
  }
}

variable "bucket_name" {
  description = "Artifact bucket name (default: sagemaker-<project_name>-<account>-<region>, as the foundation stack names it)."
  type        = string
  default     = null
}

variable "min_roc_auc" {
  description = "ROC AUC a model needs to be registered (the MinRocAuc parameter's default, and what the triggers pass)."
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

variable "data_prefix" {
  description = "Key prefix of the training data in the artifact bucket; new objects there retrain."
  type        = string
  default     = "data/"
}

variable "lambda_zip_path" {
  description = "The deploy Lambda's zip (make deploy-lambda builds build/deploy-lambda.zip)."
  type        = string
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

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

variable "deploy_on_approval" {
  description = "An approval in the registry deploys to staging through the approval rule. false when the orchestration module owns deployment (its Deploy state invokes the deploy Lambda)."
  type        = bool
  default     = true
}
