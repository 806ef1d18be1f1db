output "model_build" {
  description = "What the model-build side provisioned: names and ARNs."
  value       = module.model_build
}

output "orchestration" {
  description = "The orchestration state machine, its topic and Lambdas (null when orchestration_enabled is false)."
  value       = one(module.orchestration[*])
}
