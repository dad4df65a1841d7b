output "function_url" {
  description = "HTTPS URL of the prediction function: POST {\"model\": \"<pipeline>-<dataset>\", \"data\": \"<CSV rows>\"}."
  value       = aws_lambda_function_url.invoker.function_url
}

output "function_url_auth_type" {
  description = "AWS_IAM: sign requests with SigV4 (service lambda) as a principal holding invoke_policy_arn; NONE: public."
  value       = aws_lambda_function_url.invoker.authorization_type
}

output "invoke_policy_arn" {
  description = "Managed policy that lets a user or role call the Function URL when it uses AWS_IAM auth."
  value       = aws_iam_policy.invoke_function_url.arn
}

output "bucket" {
  description = "The data bucket: upload CSVs to s3://<bucket>/datasets/<dataset>/<file>.csv to start the pipeline."
  value       = aws_s3_bucket.data.id
}

output "pipeline_name" {
  description = "The SageMaker pipeline; model package groups are named <pipeline_name>-<dataset>."
  value       = aws_sagemaker_pipeline.this.pipeline_name
}

output "pipeline_arn" {
  description = "ARN of the SageMaker pipeline."
  value       = aws_sagemaker_pipeline.this.arn
}

output "endpoint_name" {
  description = "The multi-model endpoint serving every deployed model."
  value       = aws_sagemaker_endpoint.multi_model.name
}

output "image_uri" {
  description = "The container image (pinned by digest) every job and the endpoint run."
  value       = local.image_uri
}

output "dead_letter_queue_url" {
  description = "Events and invocations that could not be processed end up here."
  value       = aws_sqs_queue.dead_letter.url
}

output "operator_policy_arn" {
  description = "Managed policy granting what `mmp --target aws` calls: attach it to the people or roles who operate the system."
  value       = aws_iam_policy.operator.arn
}
