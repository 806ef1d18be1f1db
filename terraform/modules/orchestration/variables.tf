variable "name" {
  description = "Project name: prefix of every name (the state machine is <name>-model-lifecycle)."
  type        = string

  validation {
    condition     = can(regex("^[a-z](-*[a-z0-9]){0,31}$", var.name))
    error_message = "name must be lower-case letters, digits and single hyphens, starting with a letter, at most 32 characters."
  }
}

variable "pipeline_name" {
  description = "The SageMaker pipeline the state machine runs."
  type        = string
}

variable "model_package_group_name" {
  description = "The pipeline's model package group (the champion is its newest Approved package)."
  type        = string
}

variable "bucket_arn" {
  description = "ARN of the artifact bucket (training data and evaluation reports)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the artifacts; it also encrypts the topic, the logs and the Lambdas' environment."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "deploy_function_arn" {
  description = "The deploy Lambda (modeldeploy/approval_lambda.py) the Deploy state invokes."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$", var.deploy_function_arn))
    error_message = "deploy_function_arn must be a Lambda function ARN."
  }
}

variable "lambda_zip_path" {
  description = "orchestration/ zipped, built by `make deploy-lambda` (build/orchestration-lambda.zip)."
  type        = string

  validation {
    condition     = endswith(var.lambda_zip_path, ".zip")
    error_message = "lambda_zip_path must name a .zip file (make deploy-lambda builds build/orchestration-lambda.zip)."
  }
}

variable "definition_path" {
  description = "The ASL file (default: orchestration/state_machine.asl.json of this repository)."
  type        = string
  default     = null
}

variable "data_contract" {
  description = "The data contract the training data must meet (orchestration/data_contract/<name>.json)."
  type        = string
  default     = "churn-v1"

  validation {
    condition     = can(regex("^[a-z0-9-]+-v[0-9]+$", var.data_contract))
    error_message = "data_contract must look like churn-v1."
  }
}

variable "champion_tolerance" {
  description = "How far below the champion's ROC AUC a new model may be (0 to 1), as text."
  type        = string
  default     = "0.01"

  validation {
    condition     = can(regex("^(0(\\.[0-9]+)?|1(\\.0+)?)$", var.champion_tolerance))
    error_message = "champion_tolerance must be a number from 0 to 1, written as text (e.g. \"0.01\")."
  }
}

variable "pipeline_poll_seconds" {
  description = "Seconds between two looks at the running SageMaker pipeline."
  type        = number
  default     = 60

  validation {
    condition     = var.pipeline_poll_seconds >= 1 && var.pipeline_poll_seconds <= 3600 && floor(var.pipeline_poll_seconds) == var.pipeline_poll_seconds
    error_message = "pipeline_poll_seconds must be a whole number from 1 to 3600."
  }
}

variable "log_retention_in_days" {
  description = "Days the state machine's and the Lambdas' logs are kept."
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

variable "retrain_on_drift" {
  description = "Start the state machine when the monitored endpoint's data-quality job finds a violation (modeldeploy/monitoring/monitor.py's event)."
  type        = bool
  default     = true
}

variable "monitored_endpoint_name" {
  description = "The endpoint whose violations start retraining (default: <name>-prod, as modeldeploy's prod stack names it)."
  type        = string
  default     = null
}

variable "retraining_data_prefix" {
  description = "Key prefix of the training data in the artifact bucket that a drift-started execution retrains on (model-build's data_prefix)."
  type        = string
  default     = "data/"

  validation {
    condition     = endswith(var.retraining_data_prefix, "/") && !startswith(var.retraining_data_prefix, "/")
    error_message = "retraining_data_prefix must end with / and not start with one, e.g. data/."
  }
}
