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
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mock" }
  }
  mock_resource "aws_appconfig_application" {
    defaults = { id = "app1234" }
  }
  mock_resource "aws_appconfig_environment" {
    defaults = { environment_id = "env1234" }
  }
  mock_resource "aws_appconfig_configuration_profile" {
    defaults = { configuration_profile_id = "prof123" }
  }
  mock_resource "aws_appconfig_deployment_strategy" {
    defaults = { id = "strat12" }
  }
}

variables {
  appconfig_agent_layer_arn = "arn:aws:lambda:eu-west-1:434848589818:layer:AWS-AppConfig-Extension:110"
}

run "defaults" {
  assert {
    condition     = aws_lambda_function.function.runtime == "provided.al2023" && aws_lambda_function.function.handler == "bootstrap"
    error_message = "the reader is a lambda_runtime function on provided.al2023"
  }
  assert {
    condition     = aws_lambda_function.function.layers == tolist([var.appconfig_agent_layer_arn])
    error_message = "the agent's layer is the one given"
  }
  assert {
    condition     = aws_lambda_function.function.memory_size == 128 && aws_lambda_function.function.timeout == 10 && aws_cloudwatch_log_group.function.retention_in_days == 14
    error_message = "128 MB, 10 s and 14 days by default"
  }
  assert {
    condition     = aws_lambda_function.function.environment[0].variables == tomap({ APPCONFIG_PROFILE = "DemoExtensionApplication/Production/LoggingLevel/LogLevel" })
    error_message = "the reader is told application/environment/profile/key"
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.function.statement : s.resources if s.sid == "ReadTheOneProfile"] == [toset(["arn:aws:appconfig:eu-west-1:123456789012:application/app1234/environment/env1234/configuration/prof123"])]
    error_message = "the reader may read its one profile, in the stack's partition"
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.function.statement : s.actions if s.sid == "ReadTheOneProfile"] == [toset(["appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration"])]
    error_message = "and only through the agent's two calls"
  }
  assert {
    condition     = aws_appconfig_hosted_configuration_version.level.content == jsonencode({ loglevel = "normal" }) && aws_appconfig_hosted_configuration_version.level.content_type == "application/json"
    error_message = "the first version says loglevel normal, as JSON"
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
  assert {
    condition     = startswith(aws_lambda_function.function.environment[0].variables.APPCONFIG_PROFILE, "alice-DemoExtensionApplication/")
    error_message = "the agent is pointed at the prefixed application"
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
    name_prefix               = "alice"
    appconfig_agent_layer_arn = "arn:aws:lambda:us-east-1:027255383542:layer:AWS-AppConfig-Extension:207"
  }
  override_data {
    target = data.aws_region.current
    values = { name = "us-east-1" }
  }
  assert {
    condition     = output.names.role != run.alice.names.role
    error_message = "one prefix in two regions shares no IAM (account-wide) name"
  }
}

run "another_regions_agent_is_refused" {
  command = plan
  variables {
    appconfig_agent_layer_arn = "arn:aws:lambda:us-east-1:027255383542:layer:AWS-AppConfig-Extension:207"
  }
  expect_failures = [aws_lambda_function.function]
}

run "the_other_architectures_agent_is_refused" {
  command = plan
  variables {
    architecture              = "arm64"
    appconfig_agent_layer_arn = "arn:aws:lambda:eu-west-1:434848589818:layer:AWS-AppConfig-Extension:110"
  }
  expect_failures = [aws_lambda_function.function]
}

run "the_arm64_agent_on_arm64" {
  variables {
    architecture              = "arm64"
    appconfig_agent_layer_arn = "arn:aws:lambda:eu-west-1:434848589818:layer:AWS-AppConfig-Extension-Arm64:43"
  }
  assert {
    condition     = aws_lambda_function.function.architectures == tolist(["arm64"])
    error_message = "arm64 with its own agent layer deploys"
  }
}
