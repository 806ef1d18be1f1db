project_name        = "churn-dev"
environment         = "dev"
min_roc_auc         = 0.80
retraining_schedule = "cron(0 6 * * ? *)" # daily, 06:00 UTC
