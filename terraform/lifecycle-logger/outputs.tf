output "function_name" {
  value = aws_lambda_function.function.function_name
}

output "layer_arn" {
  value = aws_lambda_layer_version.extension.arn
}

output "invoke_command" {
  value = "aws lambda invoke --function-name ${aws_lambda_function.function.function_name} --payload '{\"message\":\"hello\"}' --cli-binary-format raw-in-base64-out --log-type Tail out.json --query LogResult --output text | base64 -d"
}

output "names" {
  description = "Every name this deployment gives. Two deployments with different name_prefix values share none; one prefix in two regions shares no account-wide (IAM) name."
  value = {
    function  = aws_lambda_function.function.function_name
    log_group = aws_cloudwatch_log_group.function.name
    role      = aws_iam_role.function.name
    layer     = aws_lambda_layer_version.extension.layer_name
  }
}
