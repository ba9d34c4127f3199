# Terraform's own tests of the stack: `terraform test` applies it against a
# mock AWS provider (no account, no network, nothing created). scripts/
# check-stacks runs them with -var artifacts_dir=<placeholder zips>.

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
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
    condition     = keys(aws_lambda_function.function.environment[0].variables) == tolist(["LIFECYCLE_LOGGER_WORK_MS"])
    error_message = "the function's environment is LIFECYCLE_LOGGER_WORK_MS alone"
  }
  assert {
    condition     = output.names.function == "lifecycle-demo" && output.names.log_group == "/aws/lambda/lifecycle-demo" && output.names.role == "lifecycle-demo-eu-west-1"
    error_message = "without a prefix, the plain names"
  }
  assert {
    condition     = one(data.aws_iam_policy_document.logs.statement).resources == toset(["${aws_cloudwatch_log_group.function.arn}:*"])
    error_message = "the role may write to its own log group only"
  }
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
    condition     = endswith(aws_lambda_layer_version.extension.filename, "/arm64/layer/extensions/lifecycle-logger.zip")
    error_message = "the layer zip comes from the architecture's folder of scripts/package"
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
    values = { name = "us-west-2" }
  }
  assert {
    condition     = output.names.role != run.alice.names.role
    error_message = "one prefix in two regions shares no IAM (account-wide) name"
  }
}

run "a_prefix_that_would_break_a_name_is_refused" {
  command = plan
  variables {
    name_prefix = "Alice_"
  }
  expect_failures = [var.name_prefix]
}
