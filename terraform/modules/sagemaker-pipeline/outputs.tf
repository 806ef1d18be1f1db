output "pipeline_name" {
  description = "Name of the SageMaker pipeline."
  value       = aws_sagemaker_pipeline.this.pipeline_name
}

output "pipeline_arn" {
  description = "ARN of the SageMaker pipeline."
  value       = aws_sagemaker_pipeline.this.arn
}

output "pipeline_definition" {
  description = "The definition sent to SageMaker (the template with this module's values)."
  value       = local.definition
}

output "role_arn" {
  description = "ARN of the pipeline's execution role."
  value       = aws_iam_role.pipeline.arn
}

output "model_package_group_name" {
  description = "Name of the model package group."
  value       = aws_sagemaker_model_package_group.this.model_package_group_name
}

output "model_package_group_arn" {
  description = "ARN of the model package group."
  value       = aws_sagemaker_model_package_group.this.arn
}
