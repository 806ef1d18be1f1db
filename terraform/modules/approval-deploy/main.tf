data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account    = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  sagemaker  = "arn:${local.partition}:sagemaker:${local.region}:${local.account}"
  stack_name = "${var.name}-staging"
}

# Deploy outcomes and failed invocations (the Lambda's dead-letter target) land here.
resource "aws_sns_topic" "deployments" {
  name              = "${var.name}-deployments"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "topic" {
  statement {
    sid       = "EventBridgePublishesApprovals"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.deployments.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.approved.arn]
    }
  }
}

resource "aws_sns_topic_policy" "deployments" {
  arn    = aws_sns_topic.deployments.arn
  policy = data.aws_iam_policy_document.topic.json
}

# The role the staging endpoint's model runs as.
data "aws_iam_policy_document" "assume_sagemaker" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "model" {
  statement {
    sid       = "ReadModelsWriteCapture"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${var.bucket_arn}/*"]
  }

  statement {
    sid       = "ArtifactEncryption"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "EndpointLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account}:log-group:/aws/sagemaker/Endpoints/${var.name}-*"]
  }
}

resource "aws_iam_role" "model" {
  name               = "${var.name}-model-execution"
  assume_role_policy = data.aws_iam_policy_document.assume_sagemaker.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "model" {
  name   = "serve-project-models"
  role   = aws_iam_role.model.id
  policy = data.aws_iam_policy_document.model.json
}

# The deploy Lambda: what modeldeploy's build.py and deploy.py need for the staging stack.
data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "lambda" {
  # checkov:skip=CKV_AWS_356:X-Ray's PutTraceSegments and PutTelemetryRecords take no resource but "*".
  # checkov:skip=CKV_AWS_111:X-Ray's PutTraceSegments and PutTelemetryRecords take no resource but "*".
  statement {
    sid       = "ReadTheRegistry"
    actions   = ["sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage"]
    resources = ["${local.sagemaker}:model-package/${var.model_package_group_name}/*", "${local.sagemaker}:model-package-group/${var.model_package_group_name}"]
  }

  statement {
    sid       = "ReadContractsAndMetrics"
    actions   = ["s3:GetObject"]
    resources = ["${var.bucket_arn}/*"]
  }

  statement {
    sid       = "Decrypt"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid = "DeployTheStagingStack"
    actions = [
      "cloudformation:CreateChangeSet",
      "cloudformation:DescribeChangeSet",
      "cloudformation:ExecuteChangeSet",
      "cloudformation:DeleteChangeSet",
      "cloudformation:DescribeStacks",
      "cloudformation:DescribeStackEvents",
      "cloudformation:DeleteStack",
    ]
    resources = ["arn:${local.partition}:cloudformation:${local.region}:${local.account}:stack/${local.stack_name}/*"]
  }

  statement {
    sid = "TheStacksEndpoint"
    actions = [
      "sagemaker:CreateModel",
      "sagemaker:DescribeModel",
      "sagemaker:DeleteModel",
      "sagemaker:CreateEndpointConfig",
      "sagemaker:DescribeEndpointConfig",
      "sagemaker:DeleteEndpointConfig",
      "sagemaker:CreateEndpoint",
      "sagemaker:UpdateEndpoint",
      "sagemaker:DescribeEndpoint",
      "sagemaker:DeleteEndpoint",
      "sagemaker:AddTags",
    ]
    resources = [
      "${local.sagemaker}:model/*",
      "${local.sagemaker}:endpoint-config/*",
      "${local.sagemaker}:endpoint/${local.stack_name}",
    ]
  }

  statement {
    sid       = "PassTheModelRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.model.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["sagemaker.amazonaws.com"]
    }
  }

  statement {
    sid       = "ReportAndDeadLetter"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.deployments.arn]
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda.arn}:*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role" "lambda" {
  name               = "${var.name}-deploy-lambda"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "lambda" {
  name   = "deploy-approved-package-to-staging"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}

resource "aws_cloudwatch_log_group" "lambda" {
  name              = "/aws/lambda/${var.name}-deploy"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "deploy" {
  # checkov:skip=CKV_AWS_117:It calls only AWS APIs; a VPC would add NAT or endpoints and nothing to reach.
  # checkov:skip=CKV_AWS_272:Code signing needs a signing profile; the zip is built reproducibly from the repository (make deploy-lambda).
  function_name    = "${var.name}-deploy"
  description      = "Deploys the newest Approved package of ${var.model_package_group_name} to ${local.stack_name} (modeldeploy/approval_lambda.py)."
  role             = aws_iam_role.lambda.arn
  runtime          = "python3.12"
  handler          = "modeldeploy.approval_lambda.handler"
  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  timeout          = 900
  memory_size      = 256
  kms_key_arn      = var.kms_key_arn
  # One deploy at a time: two approvals never race on the staging stack.
  reserved_concurrent_executions = 1

  environment {
    variables = {
      MODEL_PACKAGE_GROUP_NAME = var.model_package_group_name
      MODEL_EXECUTION_ROLE_ARN = aws_iam_role.model.arn
      ARTIFACT_BUCKET          = var.bucket_name
      SAGEMAKER_PROJECT_NAME   = var.name
      SAGEMAKER_PROJECT_ID     = var.project_id
      STAGING_STACK_NAME       = local.stack_name
      DEPLOYMENTS_TOPIC_ARN    = aws_sns_topic.deployments.arn
    }
  }

  dead_letter_config {
    target_arn = aws_sns_topic.deployments.arn
  }

  tracing_config {
    mode = "Active"
  }

  tags       = var.tags
  depends_on = [aws_iam_role_policy.lambda, aws_cloudwatch_log_group.lambda]
}

# An approval in the registry deploys it; the topic hears of it too.
resource "aws_cloudwatch_event_rule" "approved" {
  name        = "${var.name}-package-approved"
  description = var.deploy_on_approval ? "A package of ${var.model_package_group_name} was approved: deploy it to staging." : "A package of ${var.model_package_group_name} was approved: tell the topic (the orchestration state machine deploys it)."
  event_pattern = jsonencode({
    source      = ["aws.sagemaker"]
    detail-type = ["SageMaker Model Package State Change"]
    detail = {
      ModelPackageGroupName = [var.model_package_group_name]
      ModelApprovalStatus   = ["Approved"]
    }
  })
  tags = var.tags
}

# Not when the orchestration state machine owns deployment (deploy_on_approval = false):
# its Deploy state invokes the Lambda after `approve`, and the same approval must not
# deploy a second time through this rule.
resource "aws_cloudwatch_event_target" "deploy" {
  count     = var.deploy_on_approval ? 1 : 0
  rule      = aws_cloudwatch_event_rule.approved.name
  target_id = "deploy-lambda"
  arn       = aws_lambda_function.deploy.arn
}

resource "aws_cloudwatch_event_target" "notify" {
  rule      = aws_cloudwatch_event_rule.approved.name
  target_id = "deployments-topic"
  arn       = aws_sns_topic.deployments.arn
}

resource "aws_lambda_permission" "events" {
  count         = var.deploy_on_approval ? 1 : 0
  statement_id  = "AllowApprovalRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.deploy.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.approved.arn
}
