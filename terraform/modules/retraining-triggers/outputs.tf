output "schedule_arn" {
  description = "ARN of the retraining schedule."
  value       = aws_scheduler_schedule.retrain.arn
}

output "schedule_name" {
  description = "Name of the retraining schedule."
  value       = aws_scheduler_schedule.retrain.name
}

output "new_data_rule_name" {
  description = "Name of the EventBridge rule that retrains on new data."
  value       = aws_cloudwatch_event_rule.new_data.name
}

output "role_arn" {
  description = "ARN of the role the schedule and the rule start the pipeline with."
  value       = aws_iam_role.start_pipeline.arn
}
