output "function_name" {
  value = aws_lambda_function.function.function_name
}

output "bucket_name" {
  value = aws_s3_bucket.logs.id
}

output "invoke_command" {
  value = "aws lambda invoke --function-name ${aws_lambda_function.function.function_name} --payload '{\"lines\":3}' --cli-binary-format raw-in-base64-out --log-type Tail out.json --query LogResult --output text | base64 -d"
}

output "list_objects_command" {
  value = "aws s3 ls s3://${aws_s3_bucket.logs.id}/${local.prefix}/ --recursive"
}
