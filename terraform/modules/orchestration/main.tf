data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  sagemaker = "arn:${local.partition}:sagemaker:${local.region}:${local.account}"
  # The one ASL file codepipeline/orchestration.yml also deploys (its DefinitionSubstitutions
  # are these values): orchestration/README.md lists the placeholders.
  definition_path = coalesce(var.definition_path, "${path.module}/../../../orchestration/state_machine.asl.json")
  functions = {
    validate-data    = { handler = "lambdas.validate_data.handler", timeout = 300, memory = 512, what = "Check training data against its data contract (orchestration/lambdas/validate_data.py)." }
    champion-gate    = { handler = "lambdas.champion_gate.handler", timeout = 60, memory = 128, what = "Compare the new package's metric with the champion's (orchestration/lambdas/champion_gate.py)." }
    approval-message = { handler = "lambdas.approval_message.handler", timeout = 10, memory = 128, what = "Write the approval request (orchestration/lambdas/approval_message.py)." }
  }
}

# Approval requests (with the task token) and failure notices.
resource "aws_sns_topic" "lifecycle" {
  name              = "${var.name}-model-lifecycle"
  display_name      = "Model lifecycle"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

# --- the three Lambdas: read the data, the registry and the reports --------------------

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "functions" {
  # checkov:skip=CKV_AWS_356:X-Ray's PutTraceSegments and PutTelemetryRecords take no resource but "*".
  # checkov:skip=CKV_AWS_111:X-Ray's PutTraceSegments and PutTelemetryRecords take no resource but "*".
  statement {
    sid       = "ReadDataAndReports"
    actions   = ["s3:GetObject", "s3:ListBucket"]
    resources = [var.bucket_arn, "${var.bucket_arn}/*"]
  }

  statement {
    sid       = "DecryptArtifacts"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid     = "ReadTheRegistry"
    actions = ["sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage", "sagemaker:ListPipelineExecutionSteps"]
    resources = [
      "${local.sagemaker}:model-package-group/${var.model_package_group_name}",
      "${local.sagemaker}:model-package/${var.model_package_group_name}/*",
      "${local.sagemaker}:pipeline/${var.pipeline_name}/execution/*",
    ]
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for group in aws_cloudwatch_log_group.functions : "${group.arn}:*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role" "functions" {
  name               = "${var.name}-orchestration-functions"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "functions" {
  name   = "read-data-and-registry"
  role   = aws_iam_role.functions.id
  policy = data.aws_iam_policy_document.functions.json
}

resource "aws_cloudwatch_log_group" "functions" {
  for_each          = local.functions
  name              = "/aws/lambda/${var.name}-${each.key}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_117:They call S3 and SageMaker only; a VPC would add endpoints or NAT and nothing to reach.
  # checkov:skip=CKV_AWS_116:The state machine invokes them synchronously, retries and catches their errors; a dead-letter queue only receives failed asynchronous invocations.
  # checkov:skip=CKV_AWS_272:Code signing needs a signing profile; the zip is built reproducibly from the repository (make deploy-lambda).
  # checkov:skip=CKV_AWS_173:They have no environment variables to encrypt; kms_key_arn is set for any added later.
  for_each         = local.functions
  function_name    = "${var.name}-${each.key}"
  description      = each.value.what
  role             = aws_iam_role.functions.arn
  runtime          = "python3.12"
  handler          = each.value.handler
  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  timeout          = each.value.timeout
  memory_size      = each.value.memory
  kms_key_arn      = var.kms_key_arn
  # Two executions at a time at most; more wait in the state machine's Retry.
  reserved_concurrent_executions = 2

  tracing_config {
    mode = "Active"
  }

  tags       = var.tags
  depends_on = [aws_iam_role_policy.functions, aws_cloudwatch_log_group.functions]
}

# --- the state machine -------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "state_machine" {
  name              = "/aws/vendedlogs/states/${var.name}-model-lifecycle"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "assume_states" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "state_machine" {
  # checkov:skip=CKV_AWS_356:CloudWatch Logs delivery for Step Functions and X-Ray support no resource-level permissions.
  # checkov:skip=CKV_AWS_111:CloudWatch Logs delivery for Step Functions and X-Ray support no resource-level permissions.
  statement {
    sid       = "InvokeTheFunctions"
    actions   = ["lambda:InvokeFunction"]
    resources = concat([for f in aws_lambda_function.this : f.arn], [var.deploy_function_arn])
  }

  statement {
    sid     = "RunThePipeline"
    actions = ["sagemaker:StartPipelineExecution", "sagemaker:DescribePipelineExecution"]
    resources = [
      "${local.sagemaker}:pipeline/${var.pipeline_name}",
      "${local.sagemaker}:pipeline/${var.pipeline_name}/execution/*",
    ]
  }

  statement {
    sid       = "Notify"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.lifecycle.arn]
  }

  # The topic is encrypted with the project's key: publishing needs it.
  statement {
    sid       = "EncryptNotices"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid = "DeliverLogsAndTraces"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
      "xray:PutTraceSegments",
      "xray:PutTelemetryRecords",
      "xray:GetSamplingRules",
      "xray:GetSamplingTargets",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role" "state_machine" {
  name               = "${var.name}-model-lifecycle"
  assume_role_policy = data.aws_iam_policy_document.assume_states.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "state_machine" {
  name   = "model-lifecycle"
  role   = aws_iam_role.state_machine.id
  policy = data.aws_iam_policy_document.state_machine.json
}

resource "aws_sfn_state_machine" "lifecycle" {
  # checkov:skip=CKV_AWS_285:Errors are logged; execution data is not, so task tokens and data locations stay out of the logs (the execution history keeps every step).
  name     = "${var.name}-model-lifecycle"
  role_arn = aws_iam_role.state_machine.arn
  definition = templatefile(local.definition_path, {
    ValidateDataFunctionArn    = aws_lambda_function.this["validate-data"].arn
    ChampionGateFunctionArn    = aws_lambda_function.this["champion-gate"].arn
    ApprovalMessageFunctionArn = aws_lambda_function.this["approval-message"].arn
    DeployFunctionArn          = var.deploy_function_arn
    NotificationTopicArn       = aws_sns_topic.lifecycle.arn
    PipelineName               = var.pipeline_name
    ModelPackageGroupName      = var.model_package_group_name
    DataContract               = var.data_contract
    ChampionTolerance          = var.champion_tolerance
    PipelinePollSeconds        = tostring(var.pipeline_poll_seconds)
  })

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.state_machine.arn}:*"
    include_execution_data = false
    level                  = "ERROR"
  }

  tracing_configuration {
    enabled = true
  }

  tags       = var.tags
  depends_on = [aws_iam_role_policy.state_machine]
}

# --- drift -> retraining ------------------------------------------------------------------
# The monitored endpoint's data-quality job (modeldeploy/monitoring/monitor.py) puts this
# event on the default bus when captured traffic breaks the baseline's constraints; the rule
# starts the state machine on the training data prefix (codepipeline/orchestration.yml's
# DriftRetrainingRule: the same pattern; there the prefix is <project>/data/).

locals {
  bucket_name        = element(split(":::", var.bucket_arn), 1)
  monitored_endpoint = coalesce(var.monitored_endpoint_name, "${var.name}-prod")
}

resource "aws_cloudwatch_event_rule" "drift" {
  name        = "${var.name}-drift-retraining"
  description = "A data-quality violation on ${local.monitored_endpoint} starts the model lifecycle again."
  state       = var.retrain_on_drift ? "ENABLED" : "DISABLED"
  event_pattern = jsonencode({
    source        = ["mlops.model-monitor"]
    "detail-type" = ["Model Monitor Constraint Violations"]
    detail        = { endpointName = [local.monitored_endpoint] }
  })
  tags = var.tags
}

data "aws_iam_policy_document" "assume_events" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "drift_rule" {
  statement {
    actions   = ["states:StartExecution"]
    resources = [aws_sfn_state_machine.lifecycle.arn]
  }
}

resource "aws_iam_role" "drift_rule" {
  name               = "${var.name}-drift-retraining"
  assume_role_policy = data.aws_iam_policy_document.assume_events.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "drift_rule" {
  name   = "start-the-lifecycle"
  role   = aws_iam_role.drift_rule.id
  policy = data.aws_iam_policy_document.drift_rule.json
}

resource "aws_cloudwatch_event_target" "drift" {
  rule      = aws_cloudwatch_event_rule.drift.name
  target_id = "model-lifecycle"
  arn       = aws_sfn_state_machine.lifecycle.arn
  role_arn  = aws_iam_role.drift_rule.arn

  input_transformer {
    input_paths = {
      endpoint   = "$.detail.endpointName"
      schedule   = "$.detail.monitoringScheduleName"
      violations = "$.detail.violationCount"
    }
    input_template = <<-JSON
      {"InputDataUri": "s3://${local.bucket_name}/${var.retraining_data_prefix}",
      "Trigger": {"reason": "drift", "endpoint": <endpoint>,
      "monitoringSchedule": <schedule>, "violations": <violations>}}
    JSON
  }
}
