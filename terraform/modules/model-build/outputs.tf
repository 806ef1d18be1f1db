output "bucket_name" {
  description = "Artifact bucket."
  value       = module.artifact_bucket.bucket_name
}

output "kms_key_arn" {
  description = "KMS key of the project."
  value       = module.artifact_bucket.kms_key_arn
}

output "pipeline_name" {
  description = "SageMaker pipeline."
  value       = module.pipeline.pipeline_name
}

output "pipeline_arn" {
  description = "SageMaker pipeline ARN."
  value       = module.pipeline.pipeline_arn
}

output "pipeline_role_arn" {
  description = "The pipeline's execution role."
  value       = module.pipeline.role_arn
}

output "model_package_group_name" {
  description = "Model package group."
  value       = module.pipeline.model_package_group_name
}

output "schedule_name" {
  description = "Retraining schedule."
  value       = module.triggers.schedule_name
}

output "new_data_rule_name" {
  description = "EventBridge rule that retrains on new data."
  value       = module.triggers.new_data_rule_name
}

output "approval_rule_name" {
  description = "EventBridge rule that deploys approved packages."
  value       = module.approval_deploy.approval_rule_name
}

output "deploy_lambda_name" {
  description = "The deploy Lambda."
  value       = module.approval_deploy.lambda_function_name
}

output "deployments_topic_arn" {
  description = "SNS topic of deployments."
  value       = module.approval_deploy.topic_arn
}

output "model_execution_role_arn" {
  description = "Role the deployed model runs as."
  value       = module.approval_deploy.model_execution_role_arn
}

output "deploy_lambda_arn" {
  description = "ARN of the deploy Lambda (the orchestration state machine's Deploy state invokes it)."
  value       = module.approval_deploy.lambda_function_arn
}

output "bucket_arn" {
  description = "ARN of the artifact bucket."
  value       = module.artifact_bucket.bucket_arn
}
