# The AppConfig reader (a lambda_runtime function) with the AWS AppConfig
# agent layer, and the AppConfig application, environment, profile, hosted
# version, strategy and deployment it reads. Build the zip first:
# scripts/package <architecture>.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
# aws, aws-cn or aws-us-gov: ARNs written by hand must name the right one.
data "aws_partition" "current" {}

locals {
  # "" or "alice-": every name below starts with it.
  prefix = var.name_prefix == "" ? "" : "${var.name_prefix}-"
  name   = "${local.prefix}appconfig-reader-demo"
  # The agent finds the application by name: two of one name in a region
  # would be ambiguous.
  application = "${local.prefix}${var.application_name}"
  # Relative to this folder, not to where terraform runs: a copied stack or
  # one used as a child module still finds the zip.
  artifacts = "${var.artifacts_dir != "" ? var.artifacts_dir : "${path.module}/../../target/deploy"}/${var.architecture}"
  code_zip  = "${local.artifacts}/function/appconfig-reader/bootstrap.zip"
  # The agent's layer is AWS-AppConfig-Extension for x86_64 and
  # AWS-AppConfig-Extension-Arm64 for arm64, published in every region.
  agent_layer_name = var.architecture == "arm64" ? "AWS-AppConfig-Extension-Arm64" : "AWS-AppConfig-Extension"
  agent_arn_parts  = split(":", var.appconfig_agent_layer_arn)
}

resource "aws_appconfig_application" "app" {
  name = local.application
}

resource "aws_appconfig_environment" "env" {
  name           = var.environment_name
  application_id = aws_appconfig_application.app.id
}

resource "aws_appconfig_configuration_profile" "profile" {
  name           = var.profile_name
  application_id = aws_appconfig_application.app.id
  location_uri   = "hosted"
}

resource "aws_appconfig_hosted_configuration_version" "level" {
  application_id           = aws_appconfig_application.app.id
  configuration_profile_id = aws_appconfig_configuration_profile.profile.configuration_profile_id
  content_type             = "application/json"
  content                  = jsonencode({ loglevel = var.log_level })
}

resource "aws_appconfig_deployment_strategy" "all_at_once" {
  name                           = "${local.name}-all-at-once"
  deployment_duration_in_minutes = 0
  growth_factor                  = 100
  final_bake_time_in_minutes     = 0
  replicate_to                   = "NONE"
}

resource "aws_appconfig_deployment" "level" {
  application_id           = aws_appconfig_application.app.id
  environment_id           = aws_appconfig_environment.env.environment_id
  configuration_profile_id = aws_appconfig_configuration_profile.profile.configuration_profile_id
  configuration_version    = aws_appconfig_hosted_configuration_version.level.version_number
  deployment_strategy_id   = aws_appconfig_deployment_strategy.all_at_once.id
}

resource "aws_cloudwatch_log_group" "function" {
  name              = "/aws/lambda/${local.name}"
  retention_in_days = var.log_retention_days
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  # IAM names are account-wide: the region keeps one prefix's deployments
  # in two regions apart.
  name               = "${local.name}-${data.aws_region.current.name}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "function" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function.arn}:*"]
  }
  statement {
    sid     = "ReadTheOneProfile"
    actions = ["appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration"]
    resources = [
      "arn:${data.aws_partition.current.partition}:appconfig:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:application/${aws_appconfig_application.app.id}/environment/${aws_appconfig_environment.env.environment_id}/configuration/${aws_appconfig_configuration_profile.profile.configuration_profile_id}",
    ]
  }
}

resource "aws_iam_role_policy" "function" {
  name   = "read-profile"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.function.json
}

resource "aws_lambda_function" "function" {
  function_name    = local.name
  role             = aws_iam_role.function.arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  memory_size      = var.memory_size
  timeout          = var.timeout
  filename         = local.code_zip
  source_code_hash = filebase64sha256(local.code_zip)
  layers           = [var.appconfig_agent_layer_arn]

  environment {
    variables = {
      APPCONFIG_PROFILE = "${local.application}/${var.environment_name}/${var.profile_name}/LogLevel"
    }
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function.name
  }

  lifecycle {
    precondition {
      condition     = length(local.agent_arn_parts) == 8 && local.agent_arn_parts[3] == data.aws_region.current.name && local.agent_arn_parts[6] == local.agent_layer_name
      error_message = "appconfig_agent_layer_arn must be the ${local.agent_layer_name} layer of region ${data.aws_region.current.name}: look it up in the AWS AppConfig User Guide's table of agent versions."
    }
  }

  depends_on = [aws_iam_role_policy.function, aws_appconfig_deployment.level]
}
