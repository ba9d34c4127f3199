# The S3 log shipper (an external extension, as a layer), the custom runtime
# as the demo function that writes log lines, and the bucket the logs go
# to. Build the zips first: scripts/package <architecture>.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
# aws, aws-cn or aws-us-gov: ARNs written by hand must name the right one.
data "aws_partition" "current" {}

locals {
  # "" or "alice-": every name below starts with it.
  prefix = var.name_prefix == "" ? "" : "${var.name_prefix}-"
  name   = "${local.prefix}log-shipper-demo"
  # Bucket names are global: the account and the region keep every
  # deployment's apart (at most 61 characters of the 63 S3 allows).
  bucket = var.bucket_name != "" ? var.bucket_name : "${local.name}-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
  # Relative to this folder, not to where terraform runs: a copied stack or
  # one used as a child module still finds the zips.
  artifacts  = "${var.artifacts_dir != "" ? var.artifacts_dir : "${path.module}/../../target/deploy"}/${var.architecture}"
  layer_zip  = "${local.artifacts}/layer/extensions/s3-log-shipper.zip"
  code_zip   = "${local.artifacts}/function/bootstrap/bootstrap.zip"
  key_prefix = var.key_prefix
}

resource "aws_s3_bucket" "logs" {
  bucket = local.bucket
  # Emptied and removed with the stack: it holds demo logs only.
  force_destroy = true
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    id     = "expire-shipped-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.expire_after_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "tls_only" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.logs.arn,
      "${aws_s3_bucket.logs.arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "tls_only" {
  bucket = aws_s3_bucket.logs.id
  policy = data.aws_iam_policy_document.tls_only.json
  # S3 refuses a bucket policy while the public access block is being set:
  # apply them one after the other.
  depends_on = [aws_s3_bucket_public_access_block.logs]
}

resource "aws_lambda_layer_version" "extension" {
  layer_name               = "${local.prefix}s3-log-shipper-${var.architecture}"
  description              = "s3-log-shipper external extension (extensions/s3-log-shipper)"
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

data "aws_iam_policy_document" "function" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function.arn}:*"]
  }
  statement {
    sid       = "ShipLogsUnderThePrefix"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/${local.key_prefix}/*"]
  }
}

resource "aws_iam_role_policy" "function" {
  name   = "ship-logs"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.function.json
}

# The original post's switch: once the logs go to S3, CloudWatch Logs can be
# turned off by denying the role its calls (an explicit deny wins over any
# allow).
data "aws_iam_policy_document" "no_cloudwatch_logs" {
  statement {
    effect    = "Deny"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${data.aws_partition.current.partition}:logs:*:*:*"]
  }
}

resource "aws_iam_role_policy" "no_cloudwatch_logs" {
  count  = var.disable_cloudwatch_logs ? 1 : 0
  name   = "no-cloudwatch-logs"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.no_cloudwatch_logs.json
}

resource "aws_lambda_function" "function" {
  function_name = local.name
  role          = aws_iam_role.function.arn
  runtime       = "provided.al2023"
  # The hand-written runtime reads _HANDLER as file.function.
  handler          = "function.handler"
  architectures    = [var.architecture]
  memory_size      = var.memory_size
  timeout          = var.timeout
  filename         = local.code_zip
  source_code_hash = filebase64sha256(local.code_zip)
  layers           = [aws_lambda_layer_version.extension.arn]

  environment {
    variables = {
      S3_BUCKET_NAME = aws_s3_bucket.logs.id
      S3_KEY_PREFIX  = local.key_prefix
    }
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function.name
  }

  depends_on = [aws_iam_role_policy.function]
}
