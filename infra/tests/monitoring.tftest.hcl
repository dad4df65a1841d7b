# Alarms and the dashboard as Terraform renders them: each alarm watches the right metric of
# this deployment's resources and notifies alarm_topic_arn when one is given.
mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  build_image    = false
  lambda_zip_dir = "tests/fixtures/lambda"
}

run "alarms_notify_the_topic" {
  command = apply

  variables {
    alarm_topic_arn = "arn:aws:sns:us-east-1:123456789012:oncall"
  }

  assert {
    condition = alltrue([
      for alarm in concat(
        [aws_cloudwatch_metric_alarm.dead_letters, aws_cloudwatch_metric_alarm.endpoint_errors],
        [aws_cloudwatch_metric_alarm.endpoint_latency, aws_cloudwatch_metric_alarm.pipeline_failures],
        [aws_cloudwatch_metric_alarm.rejected_uploads],
        values(aws_cloudwatch_metric_alarm.function),
      ) : alarm.alarm_actions == toset(["arn:aws:sns:us-east-1:123456789012:oncall"]) && alarm.ok_actions == toset(["arn:aws:sns:us-east-1:123456789012:oncall"])
    ])
    error_message = "Every alarm must notify alarm_topic_arn, on alarm and on recovery."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.dead_letters.namespace == "AWS/SQS" &&
      aws_cloudwatch_metric_alarm.dead_letters.metric_name == "ApproximateNumberOfMessagesVisible" &&
      aws_cloudwatch_metric_alarm.dead_letters.dimensions == tomap({ QueueName = aws_sqs_queue.dead_letter.name }) &&
      aws_cloudwatch_metric_alarm.dead_letters.comparison_operator == "GreaterThanThreshold" &&
      aws_cloudwatch_metric_alarm.dead_letters.threshold == 0
    )
    error_message = "The dead-letter alarm must fire on any visible message in the dead-letter queue."
  }

  assert {
    condition = toset([
      for alarm in aws_cloudwatch_metric_alarm.function : "${alarm.dimensions.FunctionName}/${alarm.metric_name}"
      if alarm.namespace == "AWS/Lambda" && alarm.threshold == 0 && alarm.comparison_operator == "GreaterThanThreshold"
      ]) == toset(flatten([
        for function in aws_lambda_function.function : ["${function.function_name}/Errors", "${function.function_name}/Throttles"]
    ]))
    error_message = "Every function needs an Errors and a Throttles alarm."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.endpoint_errors.namespace == "AWS/SageMaker" &&
      aws_cloudwatch_metric_alarm.endpoint_errors.metric_name == "Invocation5XXErrors" &&
      aws_cloudwatch_metric_alarm.endpoint_errors.dimensions == tomap({ EndpointName = aws_sagemaker_endpoint.multi_model.name, VariantName = "AllTraffic" })
    )
    error_message = "The endpoint 5xx alarm must watch this endpoint's variant."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.endpoint_latency.metric_name == "ModelLatency" &&
      aws_cloudwatch_metric_alarm.endpoint_latency.dimensions == tomap({ EndpointName = aws_sagemaker_endpoint.multi_model.name, VariantName = "AllTraffic" }) &&
      aws_cloudwatch_metric_alarm.endpoint_latency.threshold == 2000000
    )
    error_message = "The latency alarm must watch ModelLatency, whose unit is microseconds (2000 ms = 2000000)."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.pipeline_failures.namespace == "AWS/Sagemaker/ModelBuildingPipeline" &&
      aws_cloudwatch_metric_alarm.pipeline_failures.metric_name == "ExecutionFailed" &&
      aws_cloudwatch_metric_alarm.pipeline_failures.dimensions == tomap({ PipelineName = aws_sagemaker_pipeline.this.pipeline_name })
    )
    error_message = "The pipeline alarm must count this pipeline's failed executions."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.rejected_uploads.namespace == var.project_name &&
      aws_cloudwatch_metric_alarm.rejected_uploads.metric_name == "RejectedUploads" &&
      length(coalesce(aws_cloudwatch_metric_alarm.rejected_uploads.dimensions, {})) == 0 &&
      aws_cloudwatch_metric_alarm.rejected_uploads.statistic == "Sum" &&
      aws_cloudwatch_metric_alarm.rejected_uploads.comparison_operator == "GreaterThanThreshold" &&
      aws_cloudwatch_metric_alarm.rejected_uploads.threshold == 0
    )
    error_message = "The rejected-uploads alarm must fire on any RejectedUploads count the trigger emits (its namespace, no dimensions)."
  }

  assert {
    condition     = can(jsondecode(aws_cloudwatch_dashboard.this.dashboard_body))
    error_message = "The dashboard body must be JSON."
  }

  assert {
    condition = alltrue([
      for needle in concat(
        [for function in aws_lambda_function.function : function.function_name],
        [aws_sagemaker_endpoint.multi_model.name, aws_sagemaker_pipeline.this.pipeline_name, aws_sqs_queue.dead_letter.name],
        ["Invocation5XXErrors", "ModelLatency", "ExecutionFailed", "ApproximateNumberOfMessagesVisible", "Throttles", "RejectedUploads"],
      ) : strcontains(aws_cloudwatch_dashboard.this.dashboard_body, "\"${needle}\"")
    ])
    error_message = "The dashboard must show every function, the endpoint, the pipeline and the dead-letter queue."
  }

  assert {
    condition = length(one([
      for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : widget.properties.alarms if widget.type == "alarm"
    ])) == 5 + length(aws_cloudwatch_metric_alarm.function)
    error_message = "The dashboard's alarm widget must list every alarm."
  }
}

run "alarms_without_topic_have_no_actions" {
  command = apply

  assert {
    condition = alltrue([
      for alarm in concat(
        [aws_cloudwatch_metric_alarm.dead_letters, aws_cloudwatch_metric_alarm.endpoint_errors],
        [aws_cloudwatch_metric_alarm.endpoint_latency, aws_cloudwatch_metric_alarm.pipeline_failures],
        [aws_cloudwatch_metric_alarm.rejected_uploads],
        values(aws_cloudwatch_metric_alarm.function),
      ) : length(alarm.alarm_actions) == 0 && length(alarm.ok_actions) == 0
    ])
    error_message = "Without alarm_topic_arn the alarms exist with no actions."
  }
}
