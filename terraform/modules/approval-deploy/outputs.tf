output "lambda_function_name" {
  description = "Name of the deploy Lambda."
  value       = aws_lambda_function.deploy.function_name
}

output "lambda_function_arn" {
  description = "ARN of the deploy Lambda."
  value       = aws_lambda_function.deploy.arn
}

output "approval_rule_name" {
  description = "Name of the EventBridge rule on approvals."
  value       = aws_cloudwatch_event_rule.approved.name
}

output "topic_arn" {
  description = "ARN of the deployments topic."
  value       = aws_sns_topic.deployments.arn
}

output "model_execution_role_arn" {
  description = "ARN of the role the deployed model runs as."
  value       = aws_iam_role.model.arn
}

output "staging_stack_name" {
  description = "Name of the CloudFormation stack the Lambda deploys."
  value       = local.stack_name
}
