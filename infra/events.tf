# What starts what: an upload starts the trigger (S3 notification); registry and pipeline
# events reach the deployer and the reporter through EventBridge rules whose patterns are the
# files the local event bus reads (events/patterns/).

locals {
  patterns_dir = "${path.module}/../events/patterns"

  # The S3 notification filter, as the local store applies it too (templated like the rules, so
  # a placeholder there is filled rather than deployed literally).
  dataset_upload = jsondecode(templatefile("${local.patterns_dir}/dataset-object-created.json", { pipeline_name = local.pipeline_name }))

  event_rules = {
    "model-package-state-change" = {
      description = "A model version of this pipeline's groups was approved or rejected."
      function    = "model-deployer"
    }
    "pipeline-execution-status-change" = {
      description = "An execution of this pipeline reached a final status."
      function    = "metrics-reporter"
    }
  }
}

# --- Upload -> pipeline trigger ---

resource "aws_lambda_permission" "trigger_from_bucket" {
  statement_id   = "AllowDatasetUploads"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.function["pipeline-trigger"].function_name
  principal      = "s3.amazonaws.com"
  source_arn     = aws_s3_bucket.data.arn
  source_account = local.account_id
}

resource "aws_s3_bucket_notification" "datasets" {
  bucket = aws_s3_bucket.data.id

  lambda_function {
    lambda_function_arn = aws_lambda_function.function["pipeline-trigger"].arn
    events              = local.dataset_upload.events
    filter_prefix       = local.dataset_upload.filter_prefix
    filter_suffix       = local.dataset_upload.filter_suffix
  }

  depends_on = [aws_lambda_permission.trigger_from_bucket]
}

# --- EventBridge -> deployer, reporter ---

resource "aws_cloudwatch_event_rule" "rule" {
  for_each = local.event_rules

  name        = "${var.project_name}-${each.key}"
  description = each.value.description
  # The file the local bus routes with, its ${pipeline_name} filled as the bus fills it: the
  # approval rule matches only this pipeline's groups (<pipeline>-*). The execution rule names
  # no pipeline (its events carry only the ARN), so the reporter skips other pipelines' events.
  event_pattern = templatefile("${local.patterns_dir}/${each.key}.json", { pipeline_name = local.pipeline_name })
}

resource "aws_cloudwatch_event_target" "rule" {
  for_each = local.event_rules

  rule      = aws_cloudwatch_event_rule.rule[each.key].name
  target_id = each.value.function
  arn       = aws_lambda_function.function[each.value.function].arn

  retry_policy {
    maximum_retry_attempts       = var.event_max_retry_attempts
    maximum_event_age_in_seconds = var.event_max_age_seconds
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letter.arn
  }
}

resource "aws_lambda_permission" "from_rule" {
  for_each = local.event_rules

  statement_id  = "AllowEventBridge-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.function[each.value.function].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.rule[each.key].arn
}

# --- Dead letters: events EventBridge could not deliver, invocations that kept failing ---

resource "aws_sqs_queue" "dead_letter" {
  name                      = "${var.project_name}-dead-letters"
  message_retention_seconds = var.dead_letter_retention_seconds
  sqs_managed_sse_enabled   = true
}

data "aws_iam_policy_document" "dead_letter" {
  statement {
    sid       = "EventBridgeRulesSendUndeliveredEvents"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letter.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [for rule in aws_cloudwatch_event_rule.rule : rule.arn]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.dead_letter.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "dead_letter" {
  queue_url = aws_sqs_queue.dead_letter.id
  policy    = data.aws_iam_policy_document.dead_letter.json
}
