output "state_machine_arn" {
  description = "The state machine; the approve and reject commands take it (or an execution ARN)."
  value       = aws_sfn_state_machine.lifecycle.arn
}

output "notification_topic_arn" {
  description = "Subscribe approvers and operators here (approval requests, failure notices)."
  value       = aws_sns_topic.lifecycle.arn
}

output "function_arns" {
  description = "The orchestration Lambdas: {validate-data, champion-gate, approval-message}."
  value       = { for key, function in aws_lambda_function.this : key => function.arn }
}

output "definition" {
  description = "The rendered state machine definition."
  value       = aws_sfn_state_machine.lifecycle.definition
}

output "drift_rule_name" {
  description = "The EventBridge rule that turns a data-quality violation into an execution."
  value       = aws_cloudwatch_event_rule.drift.name
}
