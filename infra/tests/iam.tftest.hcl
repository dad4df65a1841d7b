# The identity policies as the real provider renders them (under mock_provider the policy
# documents would be mocked too). Only the policy documents and what they depend on are
# applied, and every managed resource among those is overridden, so AWS is never called:
# aws_iam_policy_document computes its JSON locally. Fake credentials and max_retries = 0
# make any call that slips through fail at once.
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "offline"
  secret_key                  = "offline"
  max_retries                 = 0
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}

variables {
  build_image    = false
  lambda_zip_dir = "tests/fixtures/lambda"
}

override_data {
  target = data.aws_caller_identity.current
  values = { account_id = "123456789012" }
}

override_data {
  target = data.aws_ecr_image.container
  values = { image_digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" }
}

override_resource {
  target = aws_s3_bucket.data
  values = { id = "mmp-123456789012-us-east-1", arn = "arn:aws:s3:::mmp-123456789012-us-east-1" }
}

override_resource {
  target = aws_ecr_repository.container
  values = {
    arn            = "arn:aws:ecr:us-east-1:123456789012:repository/mmp-container"
    repository_url = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mmp-container"
  }
}

override_resource {
  target = aws_iam_role.sagemaker_pipeline
  values = { arn = "arn:aws:iam::123456789012:role/mmp-sagemaker-pipeline", id = "mmp-sagemaker-pipeline" }
}

override_resource {
  target = aws_iam_role.sagemaker_endpoint
  values = { arn = "arn:aws:iam::123456789012:role/mmp-sagemaker-endpoint", id = "mmp-sagemaker-endpoint" }
}

override_resource {
  target = aws_iam_role_policy.sagemaker_pipeline
}

override_resource {
  target = aws_iam_role_policy.sagemaker_endpoint
}

override_resource {
  target = aws_sagemaker_model.multi_model
  values = { name = "mmp-model" }
}

override_resource {
  target = aws_sagemaker_endpoint_configuration.multi_model
  values = { name = "mmp-config" }
}

override_resource {
  target = aws_sagemaker_pipeline.this
  values = { arn = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/mmp" }
}

override_resource {
  target = aws_sagemaker_endpoint.multi_model
  values = { arn = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/mmp-endpoint" }
}

override_resource {
  target = aws_sqs_queue.dead_letter
  values = { arn = "arn:aws:sqs:us-east-1:123456789012:mmp-dead-letters" }
}

override_resource {
  target = aws_cloudwatch_log_group.function
  values = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/mmp-function" }
}

run "policies" {
  command = apply

  plan_options {
    target = [
      data.aws_iam_policy_document.pipeline_trigger,
      data.aws_iam_policy_document.model_deployer,
      data.aws_iam_policy_document.endpoint_invoker,
      data.aws_iam_policy_document.metrics_reporter,
      data.aws_iam_policy_document.function_runtime,
      data.aws_iam_policy_document.sagemaker_pipeline,
      data.aws_iam_policy_document.sagemaker_endpoint,
    ]
  }

  # Each function's grants are exactly the calls its crate declares (IAM_ACTIONS, from the code
  # contract file), so an adapter call nobody granted fails here and not in production.
  assert {
    condition = alltrue([
      for name, policy in {
        "pipeline-trigger" = data.aws_iam_policy_document.pipeline_trigger.json
        "model-deployer"   = data.aws_iam_policy_document.model_deployer.json
        "endpoint-invoker" = data.aws_iam_policy_document.endpoint_invoker.json
        "metrics-reporter" = data.aws_iam_policy_document.metrics_reporter.json
      } :
      toset(flatten([for statement in jsondecode(policy).Statement : statement.Action])) == toset(jsondecode(file(var.code_contract_file)).functions[name].iam_actions)
    ])
    error_message = "A function's role grants other actions than its crate's IAM_ACTIONS (${var.code_contract_file})."
  }

  # s3:ListBucket only under the prefixes each function reads (it exists to tell a missing key
  # from a forbidden one there), never on the whole bucket.
  assert {
    condition = alltrue([
      for name, expected in {
        "pipeline-trigger" = { policy = data.aws_iam_policy_document.pipeline_trigger.json, prefixes = ["datasets/*", "triggers/*", "pinned-datasets/*"] }
        "model-deployer"   = { policy = data.aws_iam_policy_document.model_deployer.json, prefixes = ["pipelines/mmp/*", "endpoint/*"] }
        "endpoint-invoker" = { policy = data.aws_iam_policy_document.endpoint_invoker.json, prefixes = ["endpoint/*"] }
        "metrics-reporter" = { policy = data.aws_iam_policy_document.metrics_reporter.json, prefixes = ["pipelines/mmp/*", "reports/*"] }
      } :
      alltrue([
        for statement in jsondecode(expected.policy).Statement :
        toset(flatten([try(statement.Condition.StringLike["s3:prefix"], [])])) == toset(expected.prefixes)
        if contains(flatten([statement.Action]), "s3:ListBucket")
      ]) && anytrue([for statement in jsondecode(expected.policy).Statement : contains(flatten([statement.Action]), "s3:ListBucket")])
    ])
    error_message = "Each function's s3:ListBucket must carry an s3:prefix StringLike condition naming exactly the prefixes it reads."
  }

  assert {
    condition = alltrue([
      for statement in jsondecode(data.aws_iam_policy_document.endpoint_invoker.json).Statement :
      statement.Resource == "arn:aws:s3:::mmp-123456789012-us-east-1" if contains(flatten([statement.Action]), "s3:ListBucket")
    ])
    error_message = "The invoker's s3:ListBucket must name the data bucket."
  }

  # The pipeline and endpoint roles list only their own prefixes too.
  assert {
    condition = alltrue([
      for statement in jsondecode(data.aws_iam_policy_document.sagemaker_pipeline.json).Statement :
      toset(flatten([statement.Condition.StringLike["s3:prefix"]])) == toset(["datasets/*", "pinned-datasets/*", "pipelines/mmp/*"])
      if contains(flatten([statement.Action]), "s3:ListBucket")
    ])
    error_message = "The pipeline role's s3:ListBucket must be limited to datasets/, pinned-datasets/ and pipelines/<pipeline>/."
  }

  assert {
    condition = alltrue([
      for statement in jsondecode(data.aws_iam_policy_document.sagemaker_endpoint.json).Statement :
      toset(flatten([statement.Condition.StringLike["s3:prefix"]])) == toset(["endpoint/models/*"])
      if contains(flatten([statement.Action]), "s3:ListBucket")
    ])
    error_message = "The endpoint role's s3:ListBucket must be limited to endpoint/models/."
  }

  # Only the asynchronous functions may send to the dead-letter queue.
  assert {
    condition = alltrue([
      for name, document in data.aws_iam_policy_document.function_runtime :
      contains(flatten([for statement in jsondecode(document.json).Statement : statement.Action]), "sqs:SendMessage") == (name != "endpoint-invoker")
    ])
    error_message = "sqs:SendMessage must be granted to the three asynchronous functions and not to the invoker."
  }
}
