output "function_name" {
  value = aws_lambda_function.function.function_name
}

output "appconfig_profile" {
  value = "${var.application_name}/${var.environment_name}/${var.profile_name}"
}

output "invoke_command" {
  value = "aws lambda invoke --function-name ${aws_lambda_function.function.function_name} --payload '{\"hello\":\"world\"}' --cli-binary-format raw-in-base64-out --log-type Tail out.json --query LogResult --output text | base64 -d; cat out.json"
}
