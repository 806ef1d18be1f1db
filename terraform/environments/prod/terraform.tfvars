project_name        = "churn-prod"
environment         = "prod"
min_roc_auc         = 0.90
retraining_schedule = "cron(0 2 * * ? *)" # daily, 02:00 UTC
