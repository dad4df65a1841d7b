# The four Lambda functions (Rust, provided.al2023 on arm64). scripts/build-functions.sh builds
# target/lambda/<name>/bootstrap.zip for each; run it before `terraform apply`.
#
# Each function's environment is exactly the set of variables its crate reads (its ENV_VARS);
# infra/tests/functions.tftest.hcl holds the two together as rendered.

locals {
  lambda_zip_dir = coalesce(var.lambda_zip_dir, "${path.module}/../target/lambda")

  functions = {
    "pipeline-trigger" = {
      description          = "Starts one pipeline execution per CSV uploaded under datasets/, on a pinned copy of exactly the uploaded bytes."
      async                = true
      reserved_concurrency = null
      environment = {
        MMP_BUCKET                        = aws_s3_bucket.data.id
        MMP_PIPELINE_NAME                 = aws_sagemaker_pipeline.this.pipeline_name
        MMP_TRIGGER_CLAIMS_PREFIX         = local.prefix_trigger_claims
        MMP_TRIGGER_CLAIM_TIMEOUT_SECONDS = tostring(var.trigger_claim_timeout_seconds)
        MMP_PINNED_DATASETS_PREFIX        = local.prefix_pinned_datasets
        MMP_REPORTS_PREFIX                = local.prefix_reports
        MMP_METRICS_NAMESPACE             = var.project_name
      }
    }
    "model-deployer" = {
      description          = "On a model approval change, puts the newest approved version of the group on the multi-model endpoint."
      async                = true
      reserved_concurrency = null
      environment = {
        MMP_BUCKET        = aws_s3_bucket.data.id
        MMP_PIPELINE_NAME = aws_sagemaker_pipeline.this.pipeline_name
        MMP_ROUTING_KEY   = local.key_routing_table
        MMP_MODELS_PREFIX = local.prefix_endpoint_model
      }
    }
    "endpoint-invoker" = {
      description          = "Serves predictions: routes {model, data} to the dataset's deployed model on the endpoint."
      async                = false
      reserved_concurrency = var.invoker_reserved_concurrency
      environment = {
        MMP_BUCKET                  = aws_s3_bucket.data.id
        MMP_ENDPOINT_NAME           = aws_sagemaker_endpoint.multi_model.name
        MMP_ROUTING_KEY             = local.key_routing_table
        MMP_MODELS_PREFIX           = local.prefix_endpoint_model
        MMP_ROUTE_CACHE_TTL_SECONDS = tostring(var.invoker_route_cache_ttl_seconds)
        MMP_MAX_REQUEST_BYTES       = tostring(var.invoker_max_request_bytes)
      }
    }
    "metrics-reporter" = {
      description          = "On a pipeline execution's end, writes the dataset's evaluation report and the leaderboard under reports/."
      async                = true
      reserved_concurrency = null
      environment = {
        MMP_BUCKET            = aws_s3_bucket.data.id
        MMP_PIPELINE_NAME     = aws_sagemaker_pipeline.this.pipeline_name
        MMP_REPORTS_PREFIX    = local.prefix_reports
        MMP_METRICS_NAMESPACE = var.project_name
      }
    }
  }

  function_names = { for name, _ in local.functions : name => "${var.project_name}-${name}" }

  # The identity policy of each function: exactly the API calls its adapters make.
  function_policies = {
    "pipeline-trigger" = data.aws_iam_policy_document.pipeline_trigger.json
    "model-deployer"   = data.aws_iam_policy_document.model_deployer.json
    "endpoint-invoker" = data.aws_iam_policy_document.endpoint_invoker.json
    "metrics-reporter" = data.aws_iam_policy_document.metrics_reporter.json
  }
}

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts log data by default; a customer managed KMS key costs at idle.
  #checkov:skip=CKV_AWS_338:Retention is a variable (default 30 days) to keep idle cost low; raise log_retention_days for compliance.
  for_each = local.functions

  name              = "/aws/lambda/${local.function_names[each.key]}"
  retention_in_days = var.log_retention_days
}

resource "aws_lambda_function" "function" {
  #checkov:skip=CKV_AWS_50:X-Ray tracing is off: its write actions need a `*` resource, and the JSON logs carry the request ids.
  #checkov:skip=CKV_AWS_115:Only the invoker may reserve concurrency (invoker_reserved_concurrency, default unreserved: new accounts have 10 concurrent executions and any reservation fails the apply there); the event-driven functions are idempotent and the deployer's routing table uses conditional writes.
  #checkov:skip=CKV_AWS_116:The endpoint invoker is called synchronously (Function URL), where a dead-letter queue never receives anything; the three asynchronous functions have one (dynamic block below).
  #checkov:skip=CKV_AWS_117:No VPC: the functions call only public AWS APIs, and a VPC would need NAT gateways or endpoints that cost at idle.
  #checkov:skip=CKV_AWS_173:The environment holds resource names only, no secrets; Lambda encrypts it at rest with an AWS managed key.
  #checkov:skip=CKV_AWS_272:Code signing needs AWS Signer profiles; the zips are built from this repository by scripts/build-functions.sh.
  for_each = local.functions

  function_name = local.function_names[each.key]
  description   = each.value.description
  role          = aws_iam_role.function[each.key].arn

  runtime       = "provided.al2023"
  architectures = ["arm64"]
  handler       = "bootstrap"
  filename      = "${local.lambda_zip_dir}/${each.key}/bootstrap.zip"
  # filebase64sha256 fails the plan with a clear message when the zip was not built.
  source_code_hash = filebase64sha256("${local.lambda_zip_dir}/${each.key}/bootstrap.zip")

  memory_size = var.function_memory_mb
  timeout     = var.function_timeout_seconds
  # -1 is unreserved.
  reserved_concurrent_executions = coalesce(each.value.reserved_concurrency, -1)

  environment {
    # Every function also reads these two: the log filter, and S3 addressing (path style is for
    # S3 emulators only).
    variables = merge(each.value.environment, {
      RUST_LOG                = var.function_log_level
      MMP_S3_FORCE_PATH_STYLE = "false"
    })
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  dynamic "dead_letter_config" {
    for_each = each.value.async ? [aws_sqs_queue.dead_letter.arn] : []
    content {
      target_arn = dead_letter_config.value
    }
  }

  depends_on = [
    aws_iam_role_policy.function_access,
    aws_iam_role_policy.function_runtime,
  ]
}

# Asynchronous invocations (S3 notifications, EventBridge) are retried by Lambda on errors;
# what still fails goes to the dead-letter queue.
resource "aws_lambda_function_event_invoke_config" "function" {
  for_each = { for name, f in local.functions : name => f if f.async }

  function_name          = aws_lambda_function.function[each.key].function_name
  maximum_retry_attempts = 2
  # Lambda keeps asynchronous events at most 6 hours, EventBridge up to 24.
  maximum_event_age_in_seconds = min(var.event_max_age_seconds, 21600)
}

# --- The prediction Function URL ---

resource "aws_lambda_function_url" "invoker" {
  function_name      = aws_lambda_function.function["endpoint-invoker"].function_name
  authorization_type = var.function_url_auth_type

  cors {
    allow_origins  = var.cors_allow_origins
    allow_methods  = ["POST"]
    allow_headers  = ["content-type", "authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"]
    expose_headers = ["x-amzn-requestid"]
    max_age        = 3600
  }
}

# Only when the URL is opened on purpose: since October 2025 a public URL needs both grants.
resource "aws_lambda_permission" "invoker_public_url" {
  count = var.function_url_auth_type == "NONE" ? 1 : 0

  statement_id           = "AllowPublicFunctionUrl"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.function["endpoint-invoker"].function_name
  principal              = "*"
  function_url_auth_type = "NONE"
}

# The second grant (lambda:InvokeFunction, only when invoked through the Function URL) needs
# the provider's 6.x `invoked_via_function_url`; the checks validate with 5.100, so the AWS CLI
# adds it instead, on every provider version alike, and removes it on destroy.
resource "terraform_data" "invoker_public_invoke" {
  count = var.function_url_auth_type == "NONE" ? 1 : 0

  # Destroy-time commands may only read self: everything they need is in input.
  input = {
    function_name = aws_lambda_function.function["endpoint-invoker"].function_name
    statement_id  = "AllowPublicInvokeViaFunctionUrl"
    region        = local.region
  }
  triggers_replace = [aws_lambda_function.function["endpoint-invoker"].arn]

  # remove-then-add makes a re-run converge; a CLI without the flag fails the apply loudly.
  provisioner "local-exec" {
    interpreter = ["bash", "-c"]
    command     = <<-EOT
      set -euo pipefail
      aws lambda remove-permission --region "$REGION" --function-name "$FUNCTION" --statement-id "$SID" >/dev/null 2>&1 || true
      aws lambda add-permission --region "$REGION" --function-name "$FUNCTION" --statement-id "$SID" \
        --action lambda:InvokeFunction --principal '*' --invoked-via-function-url >/dev/null
    EOT
    environment = {
      REGION   = self.input.region
      FUNCTION = self.input.function_name
      SID      = self.input.statement_id
    }
  }

  provisioner "local-exec" {
    when        = destroy
    interpreter = ["bash", "-c"]
    command     = <<-EOT
      set -uo pipefail
      if ! out=$(aws lambda remove-permission --region "$REGION" --function-name "$FUNCTION" --statement-id "$SID" 2>&1); then
        case "$out" in *ResourceNotFoundException*) ;; *) echo "$out" >&2; exit 1 ;; esac
      fi
    EOT
    environment = {
      REGION   = self.input.region
      FUNCTION = self.input.function_name
      SID      = self.input.statement_id
    }
  }

  depends_on = [aws_lambda_permission.invoker_public_url]
}

# With AWS_IAM, callers in this account need an identity policy like this one: attach it to
# the users or roles that may ask for predictions.
data "aws_iam_policy_document" "invoke_function_url" {
  statement {
    sid     = "InvokePredictionUrl"
    actions = ["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"]
    resources = [
      aws_lambda_function.function["endpoint-invoker"].arn,
    ]
  }
}

resource "aws_iam_policy" "invoke_function_url" {
  name        = "${var.project_name}-invoke-prediction-url"
  description = "Lets a principal call the ${var.project_name} prediction Function URL (AWS_IAM auth)."
  policy      = data.aws_iam_policy_document.invoke_function_url.json
}
