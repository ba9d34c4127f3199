output "function_name" {
  value = aws_lambda_function.function.function_name
}

output "layer_arn" {
  value = aws_lambda_layer_version.extension.arn
}

output "invoke_command" {
  value = "aws lambda invoke --function-name ${aws_lambda_function.function.function_name} --payload '{\"message\":\"hello\"}' --cli-binary-format raw-in-base64-out --log-type Tail out.json --query LogResult --output text | base64 -d"
}
