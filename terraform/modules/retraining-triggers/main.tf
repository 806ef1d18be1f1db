data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com", "events.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "start_pipeline" {
  statement {
    sid       = "StartThePipeline"
    actions   = ["sagemaker:StartPipelineExecution"]
    resources = [var.pipeline_arn]
  }

  statement {
    sid       = "ScheduleEncryption"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role" "start_pipeline" {
  name               = "${var.name}-start-pipeline"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "start_pipeline" {
  name   = "start-the-pipeline"
  role   = aws_iam_role.start_pipeline.id
  policy = data.aws_iam_policy_document.start_pipeline.json
}

locals {
  data_uri = "s3://${var.bucket_name}/${var.data_prefix}"
}

# Scheduled retraining on everything under the data prefix.
resource "aws_scheduler_schedule" "retrain" {
  name                         = "${var.name}-retrain"
  description                  = "Scheduled retraining of ${var.pipeline_name}."
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.schedule_timezone
  kms_key_arn                  = var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = var.pipeline_arn
    role_arn = aws_iam_role.start_pipeline.arn

    sagemaker_pipeline_parameters {
      dynamic "pipeline_parameter" {
        for_each = merge({ InputDataUri = local.data_uri }, var.pipeline_parameters)
        content {
          name  = pipeline_parameter.key
          value = pipeline_parameter.value
        }
      }
    }

    retry_policy {
      maximum_retry_attempts       = 3
      maximum_event_age_in_seconds = 3600
    }
  }
}

# New-data retraining: an object created under the data prefix (the bucket sends its
# events to EventBridge) runs the pipeline on that prefix.
resource "aws_cloudwatch_event_rule" "new_data" {
  name        = "${var.name}-new-data"
  description = "Retrain ${var.pipeline_name} when new training data lands under ${var.data_prefix}."
  event_pattern = jsonencode({
    source      = ["aws.s3"]
    detail-type = ["Object Created"]
    detail = {
      bucket = { name = [var.bucket_name] }
      object = { key = [{ prefix = var.data_prefix }] }
    }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "new_data" {
  rule      = aws_cloudwatch_event_rule.new_data.name
  target_id = "sagemaker-pipeline"
  arn       = var.pipeline_arn
  role_arn  = aws_iam_role.start_pipeline.arn

  sagemaker_pipeline_target {
    dynamic "pipeline_parameter_list" {
      for_each = merge({ InputDataUri = local.data_uri }, var.pipeline_parameters)
      content {
        name  = pipeline_parameter_list.key
        value = pipeline_parameter_list.value
      }
    }
  }
}
