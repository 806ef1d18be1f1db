data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  # The name codepipeline/foundation.yml gives the artifact bucket.
  bucket_name = coalesce(var.bucket_name, "sagemaker-${var.project_name}-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}")
  tags        = merge({ "sagemaker:project-name" = var.project_name, environment = var.environment }, var.tags)
}

module "artifact_bucket" {
  source = "../artifact-bucket"

  bucket_name                 = local.bucket_name
  force_destroy               = var.force_destroy
  kms_deletion_window_in_days = var.kms_deletion_window_in_days
  tags                        = local.tags
}

module "pipeline" {
  source = "../sagemaker-pipeline"

  pipeline_name            = var.project_name
  environment              = var.environment
  model_package_group_name = var.project_name
  bucket_name              = module.artifact_bucket.bucket_name
  bucket_arn               = module.artifact_bucket.bucket_arn
  kms_key_arn              = module.artifact_bucket.kms_key_arn
  min_roc_auc              = var.min_roc_auc
  tags                     = local.tags
}

module "triggers" {
  source = "../retraining-triggers"

  name                = var.project_name
  pipeline_name       = module.pipeline.pipeline_name
  pipeline_arn        = module.pipeline.pipeline_arn
  bucket_name         = module.artifact_bucket.bucket_name
  data_prefix         = var.data_prefix
  schedule_expression = var.retraining_schedule
  schedule_timezone   = var.retraining_timezone
  kms_key_arn         = module.artifact_bucket.kms_key_arn
  pipeline_parameters = {
    ModelApprovalStatus = "PendingManualApproval"
    MinRocAuc           = tostring(var.min_roc_auc)
  }
  tags = local.tags
}

module "approval_deploy" {
  source = "../approval-deploy"

  name                     = var.project_name
  project_id               = var.project_id
  model_package_group_name = module.pipeline.model_package_group_name
  bucket_name              = module.artifact_bucket.bucket_name
  bucket_arn               = module.artifact_bucket.bucket_arn
  kms_key_arn              = module.artifact_bucket.kms_key_arn
  lambda_zip_path          = var.lambda_zip_path
  deploy_on_approval       = var.deploy_on_approval
  tags                     = local.tags
}
