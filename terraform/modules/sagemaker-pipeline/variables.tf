variable "pipeline_name" {
  description = "Name of the SageMaker pipeline."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$", var.pipeline_name))
    error_message = "pipeline_name must be letters, digits and single hyphens (SageMaker's pattern), at most 256 characters."
  }
}

variable "environment" {
  description = "Which rendered definition to use: dev or prod (modelbuild/pipelines/churn/config/<environment>.json)."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be dev or prod."
  }
}

variable "model_package_group_name" {
  description = "Model package group the pipeline registers into."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.model_package_group_name))
    error_message = "model_package_group_name must be letters, digits and single hyphens, at most 63 characters."
  }
}

variable "role_name" {
  description = "Name of the pipeline's execution role (default: <pipeline_name>-execution)."
  type        = string
  default     = null
}

variable "bucket_name" {
  description = "Artifact bucket: step code, data and outputs."
  type        = string
}

variable "bucket_arn" {
  description = "ARN of the artifact bucket."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::", var.bucket_arn))
    error_message = "bucket_arn must be an S3 bucket ARN."
  }
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the artifact bucket."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "min_roc_auc" {
  description = "Default of the MinRocAuc parameter: the ROC AUC a model needs to be registered."
  type        = number

  validation {
    condition     = var.min_roc_auc >= 0 && var.min_roc_auc <= 1
    error_message = "min_roc_auc must be between 0 and 1."
  }
}

variable "sklearn_image_tag" {
  description = "Tag of the SageMaker scikit-learn image (the SDK's version the template was rendered with)."
  type        = string
  default     = "1.9-0-cpu-py3"
}

variable "processing_image_uri" {
  description = "Image of the processing steps (default: the region's scikit-learn image)."
  type        = string
  default     = null
}

variable "training_image_uri" {
  description = "Image of the training step (default: the region's scikit-learn image)."
  type        = string
  default     = null
}

variable "inference_image_uri" {
  description = "Image the registered model serves with (default: the region's scikit-learn image)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource the module creates."
  type        = map(string)
  default     = {}
}
