provider "aws" {
  region = var.region
  # Low locally: an action the endpoint lacks fails at once instead of after minutes of
  # retries. (Against the sandbox, AWS_ENDPOINT_URL and fake keys are all it needs.)
  max_retries       = var.aws_max_retries
  s3_use_path_style = var.s3_use_path_style

  default_tags {
    tags = { "managed-by" = "terraform" }
  }
}

module "model_build" {
  source = "../../modules/model-build"

  project_name                = var.project_name
  environment                 = var.environment
  min_roc_auc                 = var.min_roc_auc
  retraining_schedule         = var.retraining_schedule
  retraining_timezone         = var.retraining_timezone
  lambda_zip_path             = coalesce(var.lambda_zip_path, "${path.root}/../../../build/deploy-lambda.zip")
  force_destroy               = var.force_destroy
  kms_deletion_window_in_days = var.kms_deletion_window_in_days
  # One owner of deployment: the approval rule, or (orchestration on) the state machine.
  deploy_on_approval = !var.orchestration_enabled
}

# The model lifecycle as a Step Functions state machine (orchestration/): validate the data,
# run the pipeline, the champion gate, a person's approval, then its Deploy state invokes
# the deploy Lambda (and the approval rule no longer does).
module "orchestration" {
  source = "../../modules/orchestration"
  count  = var.orchestration_enabled ? 1 : 0

  name                     = var.project_name
  pipeline_name            = module.model_build.pipeline_name
  model_package_group_name = module.model_build.model_package_group_name
  bucket_arn               = module.model_build.bucket_arn
  kms_key_arn              = module.model_build.kms_key_arn
  deploy_function_arn      = module.model_build.deploy_lambda_arn
  lambda_zip_path          = coalesce(var.orchestration_zip_path, "${path.root}/../../../build/orchestration-lambda.zip")
  pipeline_poll_seconds    = var.orchestration_poll_seconds
  tags                     = { "sagemaker:project-name" = var.project_name, environment = var.environment }
}
