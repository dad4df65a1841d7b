# The event wiring as Terraform renders it: every rule pattern is concrete JSON with the
# pipeline's name filled in (a literal ${pipeline_name} once reached EventBridge, so approving a
# model deployed nothing), and the S3 notification filter comes from the same folder.
mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  build_image    = false
  lambda_zip_dir = "tests/fixtures/lambda"
}

run "patterns_are_filled_for_the_default_project" {
  command = plan

  assert {
    condition     = length(aws_cloudwatch_event_rule.rule) == 2
    error_message = "Expected the two rules (approval -> deployer, execution end -> reporter)."
  }

  assert {
    condition     = alltrue([for rule in aws_cloudwatch_event_rule.rule : can(jsondecode(rule.event_pattern))])
    error_message = "Every rule's event_pattern must be JSON."
  }

  assert {
    condition     = alltrue([for rule in aws_cloudwatch_event_rule.rule : !strcontains(rule.event_pattern, "$${")])
    error_message = "A rule's event_pattern still holds a template placeholder: ${join(" | ", [for rule in aws_cloudwatch_event_rule.rule : rule.event_pattern])}"
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.rule["model-package-state-change"].event_pattern).detail.ModelPackageGroupName == [{ prefix = "mmp-" }]
    error_message = "The approval rule must match the groups <project_name>-*: ${aws_cloudwatch_event_rule.rule["model-package-state-change"].event_pattern}"
  }

  assert {
    condition = alltrue([
      for rule in aws_cloudwatch_event_rule.rule :
      alltrue([for matcher in try(jsondecode(rule.event_pattern).detail.ModelPackageGroupName, []) : matcher.prefix == "mmp-"])
    ])
    error_message = "Every rule naming model package groups must name this pipeline's."
  }

  assert {
    condition     = aws_cloudwatch_event_target.rule["model-package-state-change"].target_id == "model-deployer" && aws_lambda_permission.from_rule["model-package-state-change"].function_name == aws_lambda_function.function["model-deployer"].function_name
    error_message = "Approvals must reach the model deployer."
  }

  assert {
    condition     = aws_cloudwatch_event_target.rule["pipeline-execution-status-change"].target_id == "metrics-reporter" && aws_lambda_permission.from_rule["pipeline-execution-status-change"].function_name == aws_lambda_function.function["metrics-reporter"].function_name
    error_message = "Execution ends must reach the metrics reporter."
  }

  assert {
    condition = (
      aws_s3_bucket_notification.datasets.lambda_function[0].filter_prefix == "datasets/" &&
      aws_s3_bucket_notification.datasets.lambda_function[0].filter_suffix == ".csv" &&
      aws_s3_bucket_notification.datasets.lambda_function[0].events == toset(["s3:ObjectCreated:*"])
    )
    error_message = "The upload notification must take events/patterns/dataset-object-created.json's filter."
  }
}

run "patterns_follow_project_name" {
  command = plan

  variables {
    project_name = "churn-models"
  }

  assert {
    condition     = alltrue([for rule in aws_cloudwatch_event_rule.rule : can(jsondecode(rule.event_pattern)) && !strcontains(rule.event_pattern, "$${")])
    error_message = "Every rule's event_pattern must be concrete JSON."
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.rule["model-package-state-change"].event_pattern).detail.ModelPackageGroupName == [{ prefix = "churn-models-" }]
    error_message = "The approval rule must match the groups churn-models-*: ${aws_cloudwatch_event_rule.rule["model-package-state-change"].event_pattern}"
  }

  assert {
    condition     = aws_cloudwatch_event_rule.rule["model-package-state-change"].name == "churn-models-model-package-state-change"
    error_message = "Rule names carry the project name."
  }
}
