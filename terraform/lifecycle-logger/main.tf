# The lifecycle logger (an external extension, as a layer) and the
# hand-written custom runtime (the function). Build the zips first:
# scripts/package <architecture>.

data "aws_region" "current" {}

locals {
  # "" or "alice-": every name below starts with it.
  prefix = var.name_prefix == "" ? "" : "${var.name_prefix}-"
  name   = "${local.prefix}lifecycle-demo"
  # Relative to this folder, not to where terraform runs: a copied stack or
  # one used as a child module still finds the zips.
  artifacts = "${var.artifacts_dir != "" ? var.artifacts_dir : "${path.module}/../../target/deploy"}/${var.architecture}"
  layer_zip = "${local.artifacts}/layer/extensions/lifecycle-logger.zip"
  code_zip  = "${local.artifacts}/function/bootstrap/bootstrap.zip"
}

resource "aws_lambda_layer_version" "extension" {
  layer_name               = "${local.prefix}lifecycle-logger-${var.architecture}"
  description              = "lifecycle-logger external extension (extensions/lifecycle-logger)"
  filename                 = local.layer_zip
  source_code_hash         = filebase64sha256(local.layer_zip)
  compatible_runtimes      = ["provided.al2023"]
  compatible_architectures = [var.architecture]
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

data "aws_iam_policy_document" "logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function.arn}:*"]
  }
}

resource "aws_iam_role_policy" "logs" {
  name   = "write-own-logs"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.logs.json
}

resource "aws_lambda_function" "function" {
  function_name = local.name
  role          = aws_iam_role.function.arn
  runtime       = "provided.al2023"
  # The hand-written runtime reads _HANDLER as file.function, like the
  # post's bash bootstrap; "bootstrap" would fail Init with
  # Runtime.HandlerNotFound.
  handler          = "function.handler"
  architectures    = [var.architecture]
  memory_size      = var.memory_size
  timeout          = var.timeout
  filename         = local.code_zip
  source_code_hash = filebase64sha256(local.code_zip)
  layers           = [aws_lambda_layer_version.extension.arn]

  environment {
    variables = {
      LIFECYCLE_LOGGER_WORK_MS = tostring(var.work_ms)
    }
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function.name
  }

  depends_on = [aws_iam_role_policy.logs]
}
