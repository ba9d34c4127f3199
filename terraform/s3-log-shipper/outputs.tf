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
  value = "aws s3 ls s3://${aws_s3_bucket.logs.id}/${local.key_prefix}/ --recursive"
}

output "names" {
  description = "Every name this deployment gives. Two deployments with different name_prefix values share none; one prefix in two regions shares no account-wide (IAM, S3) name."
  value = {
    function  = aws_lambda_function.function.function_name
    log_group = aws_cloudwatch_log_group.function.name
    role      = aws_iam_role.function.name
    layer     = aws_lambda_layer_version.extension.layer_name
    bucket    = aws_s3_bucket.logs.bucket
  }
}
