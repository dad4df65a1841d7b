# What someone on call needs to see: alarms on everything that fails without a caller noticing
# (dead letters, function errors and throttles, endpoint errors and latency, failed pipeline
# executions, rejected uploads), sent to alarm_topic_arn, and one dashboard with the same metrics.

locals {
  alarm_actions = var.alarm_topic_arn == null ? [] : [var.alarm_topic_arn]

  # SageMaker Pipelines publishes execution counts here, by PipelineName.
  pipeline_metrics_namespace = "AWS/Sagemaker/ModelBuildingPipeline"

  # One Errors and one Throttles alarm per function.
  function_alarms = merge([
    for name, _ in local.functions : {
      "${name}-errors" = {
        function    = name
        metric      = "Errors"
        description = "The ${name} function failed invocations (asynchronous ones are retried, then dead-lettered)."
      }
      "${name}-throttles" = {
        function    = name
        metric      = "Throttles"
        description = "Invocations of the ${name} function were throttled (account or reserved concurrency exhausted)."
      }
    }
  ]...)
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${var.project_name}-dead-letters"
  alarm_description   = "Events or invocations that kept failing are waiting in the dead-letter queue: read them, fix the cause, redrive."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letter.name }
  statistic           = "Maximum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "function" {
  for_each = local.function_alarms

  alarm_name          = "${local.function_names[each.value.function]}-${lower(each.value.metric)}"
  alarm_description   = each.value.description
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = aws_lambda_function.function[each.value.function].function_name }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "endpoint_errors" {
  alarm_name          = "${local.endpoint_name}-5xx"
  alarm_description   = "The multi-model endpoint answered with 5xx errors (the model container failed, or a model could not be loaded)."
  namespace           = "AWS/SageMaker"
  metric_name         = "Invocation5XXErrors"
  dimensions          = { EndpointName = aws_sagemaker_endpoint.multi_model.name, VariantName = local.variant_name }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "endpoint_latency" {
  alarm_name         = "${local.endpoint_name}-model-latency"
  alarm_description  = "The endpoint's p99 model latency is above ${var.endpoint_latency_alarm_ms} ms."
  namespace          = "AWS/SageMaker"
  metric_name        = "ModelLatency"
  dimensions         = { EndpointName = aws_sagemaker_endpoint.multi_model.name, VariantName = local.variant_name }
  extended_statistic = "p99"
  period             = var.alarm_period_seconds
  # Two periods in a row: one slow model load (first call after a deployment) is not an outage.
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  # ModelLatency is reported in microseconds.
  threshold          = var.endpoint_latency_alarm_ms * 1000
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "pipeline_failures" {
  alarm_name          = "${local.pipeline_name}-pipeline-failures"
  alarm_description   = "A pipeline execution failed: its failed step and the reason are in `aws sagemaker list-pipeline-execution-steps`."
  namespace           = local.pipeline_metrics_namespace
  metric_name         = "ExecutionFailed"
  dimensions          = { PipelineName = aws_sagemaker_pipeline.this.pipeline_name }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# The pipeline trigger counts every upload it started nothing for (bad key, name or settings,
# superseded, identical to an earlier upload) in this EMF metric, without dimensions so that one
# alarm covers every dataset; the report is at reports/rejected-uploads/<dataset>/<token>.json.
resource "aws_cloudwatch_metric_alarm" "rejected_uploads" {
  alarm_name          = "${var.project_name}-rejected-uploads"
  alarm_description   = "An upload started no pipeline execution: the reason is in s3://${aws_s3_bucket.data.id}/${local.prefix_reports}rejected-uploads/<dataset>/."
  namespace           = var.project_name
  metric_name         = "RejectedUploads"
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.project_name

  dashboard_body = jsonencode({
    widgets = [
      {
        type = "alarm", x = 0, y = 0, width = 24, height = 3
        properties = {
          title = "Alarms"
          alarms = concat(
            [aws_cloudwatch_metric_alarm.dead_letters.arn, aws_cloudwatch_metric_alarm.endpoint_errors.arn],
            [aws_cloudwatch_metric_alarm.endpoint_latency.arn, aws_cloudwatch_metric_alarm.pipeline_failures.arn],
            [aws_cloudwatch_metric_alarm.rejected_uploads.arn],
            [for alarm in aws_cloudwatch_metric_alarm.function : alarm.arn],
          )
        }
      },
      {
        type = "metric", x = 0, y = 3, width = 12, height = 6
        properties = {
          title  = "Functions: errors and throttles"
          region = local.region
          stat   = "Sum"
          period = 300
          metrics = concat(
            [for name, _ in local.functions : ["AWS/Lambda", "Errors", "FunctionName", aws_lambda_function.function[name].function_name]],
            [for name, _ in local.functions : ["AWS/Lambda", "Throttles", "FunctionName", aws_lambda_function.function[name].function_name]],
          )
        }
      },
      {
        type = "metric", x = 12, y = 3, width = 12, height = 6
        properties = {
          title   = "Functions: invocations"
          region  = local.region
          stat    = "Sum"
          period  = 300
          metrics = [for name, _ in local.functions : ["AWS/Lambda", "Invocations", "FunctionName", aws_lambda_function.function[name].function_name]]
        }
      },
      {
        type = "metric", x = 0, y = 9, width = 12, height = 6
        properties = {
          title  = "Endpoint: invocations and errors"
          region = local.region
          stat   = "Sum"
          period = 300
          metrics = [
            for metric in ["Invocations", "Invocation4XXErrors", "Invocation5XXErrors"] :
            ["AWS/SageMaker", metric, "EndpointName", aws_sagemaker_endpoint.multi_model.name, "VariantName", local.variant_name]
          ]
        }
      },
      {
        type = "metric", x = 12, y = 9, width = 12, height = 6
        properties = {
          title  = "Endpoint: model latency (microseconds)"
          region = local.region
          period = 300
          metrics = [
            for stat in ["p50", "p99"] :
            ["AWS/SageMaker", "ModelLatency", "EndpointName", aws_sagemaker_endpoint.multi_model.name, "VariantName", local.variant_name, { stat = stat }]
          ]
        }
      },
      {
        type = "metric", x = 0, y = 15, width = 12, height = 6
        properties = {
          title  = "Pipeline executions"
          region = local.region
          stat   = "Sum"
          period = 3600
          metrics = concat(
            [
              for metric in ["ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed"] :
              [local.pipeline_metrics_namespace, metric, "PipelineName", aws_sagemaker_pipeline.this.pipeline_name]
            ],
            [[var.project_name, "RejectedUploads"]],
          )
        }
      },
      {
        type = "metric", x = 12, y = 15, width = 12, height = 6
        properties = {
          title   = "Dead-letter queue depth"
          region  = local.region
          stat    = "Maximum"
          period  = 300
          metrics = [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.dead_letter.name]]
        }
      },
    ]
  })
}
