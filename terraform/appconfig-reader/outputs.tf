output "function_name" {
  value = aws_lambda_function.function.function_name
}

output "appconfig_profile" {
  value = "${local.application}/${var.environment_name}/${var.profile_name}"
}

output "invoke_command" {
  value = "aws lambda invoke --function-name ${aws_lambda_function.function.function_name} --payload '{\"hello\":\"world\"}' --cli-binary-format raw-in-base64-out --log-type Tail out.json --query LogResult --output text | base64 -d; cat out.json"
}

output "names" {
  description = "Every name this deployment gives. Two deployments with different name_prefix values share none; one prefix in two regions shares no account-wide (IAM) name."
  value = {
    function    = aws_lambda_function.function.function_name
    log_group   = aws_cloudwatch_log_group.function.name
    role        = aws_iam_role.function.name
    application = aws_appconfig_application.app.name
    strategy    = aws_appconfig_deployment_strategy.all_at_once.name
  }
}
