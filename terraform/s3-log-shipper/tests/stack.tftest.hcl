# Terraform's own tests of the stack: `terraform test` applies it against a
# mock AWS provider (no account, no network, nothing created). scripts/
# check-stacks runs them with -var artifacts_dir=<placeholder zips>.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  # The provider checks the ARNs one resource passes to another.
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
  mock_resource "aws_lambda_layer_version" {
    defaults = { arn = "arn:aws:lambda:eu-west-1:123456789012:layer:mock:1" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mock" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::mock-bucket" }
  }
}

run "defaults" {
  assert {
    condition     = aws_lambda_function.function.runtime == "provided.al2023" && aws_lambda_function.function.handler == "function.handler"
    error_message = "the function runs on provided.al2023 with the handler the custom runtime reads (file.function)"
  }
  assert {
    condition     = aws_lambda_function.function.architectures == tolist(["x86_64"]) && aws_lambda_layer_version.extension.compatible_architectures == toset(["x86_64"])
    error_message = "x86_64 by default, for the function and its layer alike"
  }
  assert {
    condition     = aws_lambda_function.function.memory_size == 128 && aws_lambda_function.function.timeout == 10 && aws_cloudwatch_log_group.function.retention_in_days == 14
    error_message = "128 MB, 10 s and 14 days by default"
  }
  assert {
    condition     = aws_lambda_function.function.environment[0].variables == tomap({ S3_BUCKET_NAME = aws_s3_bucket.logs.id, S3_KEY_PREFIX = "logs" })
    error_message = "the shipper is told its bucket and the logs prefix"
  }
  assert {
    condition     = output.names.function == "log-shipper-demo" && output.names.bucket == "log-shipper-demo-123456789012-eu-west-1" && output.names.role == "log-shipper-demo-eu-west-1"
    error_message = "without a prefix, the plain names, with the account and the region in the global ones"
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.function.statement : s.resources if s.sid == "ShipLogsUnderThePrefix"] == [toset(["arn:aws:s3:::mock-bucket/logs/*"])]
    error_message = "the shipper may put objects under its prefix only"
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.function.statement : s.actions if s.sid == "ShipLogsUnderThePrefix"] == [toset(["s3:PutObject"])]
    error_message = "and only put them"
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.function.statement : s.resources if s.sid == "WriteOwnLogs"] == [toset(["${aws_cloudwatch_log_group.function.arn}:*"])]
    error_message = "the role may write to its own log group only"
  }
  assert {
    condition     = aws_s3_bucket.logs.force_destroy && aws_s3_bucket_public_access_block.logs.block_public_acls && aws_s3_bucket_public_access_block.logs.block_public_policy && aws_s3_bucket_public_access_block.logs.ignore_public_acls && aws_s3_bucket_public_access_block.logs.restrict_public_buckets
    error_message = "the bucket is private, and emptied when the stack is destroyed"
  }
  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.logs.rule).apply_server_side_encryption_by_default).sse_algorithm == "AES256"
    error_message = "the bucket encrypts what it holds"
  }
  assert {
    condition     = one(one(aws_s3_bucket_lifecycle_configuration.logs.rule).expiration).days == 30
    error_message = "shipped objects expire after 30 days by default"
  }
  assert {
    condition     = one(data.aws_iam_policy_document.tls_only.statement).effect == "Deny" && one(one(data.aws_iam_policy_document.tls_only.statement).condition).variable == "aws:SecureTransport"
    error_message = "the bucket refuses requests without TLS"
  }
  assert {
    condition     = length(aws_iam_role_policy.no_cloudwatch_logs) == 0
    error_message = "CloudWatch Logs stay on by default"
  }
}

run "cloudwatch_logs_off_in_china" {
  variables {
    disable_cloudwatch_logs = true
  }
  override_data {
    target = data.aws_partition.current
    values = { partition = "aws-cn" }
  }
  assert {
    condition     = length(aws_iam_role_policy.no_cloudwatch_logs) == 1
    error_message = "the switch adds the deny"
  }
  assert {
    condition     = one(data.aws_iam_policy_document.no_cloudwatch_logs.statement).resources == toset(["arn:aws-cn:logs:*:*:*"])
    error_message = "the deny names the stack's partition: arn:aws: matches nothing in aws-cn"
  }
  assert {
    condition     = one(data.aws_iam_policy_document.no_cloudwatch_logs.statement).actions == toset(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"])
    error_message = "the deny covers the three calls that write logs"
  }
}

run "a_deeper_key_prefix" {
  variables {
    key_prefix = "logs/prod"
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.function.statement : s.resources if s.sid == "ShipLogsUnderThePrefix"] == [toset(["arn:aws:s3:::mock-bucket/logs/prod/*"])]
    error_message = "the policy follows the prefix the shipper is given"
  }
}

run "an_empty_key_prefix_is_refused" {
  command = plan
  variables {
    key_prefix = ""
  }
  expect_failures = [var.key_prefix]
}

run "a_slash_ended_key_prefix_is_refused" {
  command = plan
  variables {
    key_prefix = "logs/"
  }
  expect_failures = [var.key_prefix]
}

run "arm64" {
  variables {
    architecture = "arm64"
  }
  assert {
    condition     = aws_lambda_function.function.architectures == tolist(["arm64"]) && aws_lambda_layer_version.extension.compatible_architectures == toset(["arm64"])
    error_message = "one variable moves the function and its layer together"
  }
  assert {
    condition     = endswith(aws_lambda_layer_version.extension.filename, "/arm64/layer/extensions/s3-log-shipper.zip") && endswith(aws_lambda_function.function.filename, "/arm64/function/bootstrap/bootstrap.zip")
    error_message = "the zips come from the architecture's folder of scripts/package"
  }
}

run "alice" {
  variables {
    name_prefix = "alice"
  }
  assert {
    condition     = alltrue([for name in values(output.names) : strcontains(name, "alice-")])
    error_message = "every name starts with the prefix"
  }
}

run "bob" {
  variables {
    name_prefix = "bob"
  }
  assert {
    condition     = length(setintersection(values(output.names), values(run.alice.names))) == 0
    error_message = "two prefixes in one account and region share no name"
  }
}

run "alice_in_another_region" {
  variables {
    name_prefix = "alice"
  }
  override_data {
    target = data.aws_region.current
    values = { name = "ap-southeast-2" }
  }
  assert {
    condition     = output.names.role != run.alice.names.role && output.names.bucket != run.alice.names.bucket
    error_message = "one prefix in two regions shares no account-wide (IAM) or global (S3) name"
  }
}

run "the_longest_names_fit" {
  variables {
    name_prefix = "abcdefghijklmnop"
  }
  override_data {
    target = data.aws_region.current
    values = { name = "ap-southeast-14" }
  }
  assert {
    condition     = length(output.names.bucket) <= 63 && length(output.names.role) <= 64 && length(output.names.function) <= 64
    error_message = "a 16-character prefix in a long region name still gives names S3, IAM and Lambda accept"
  }
}
