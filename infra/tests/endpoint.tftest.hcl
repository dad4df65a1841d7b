# Autoscaling as Terraform renders it: both policies act on the one scalable target.
mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  build_image    = false
  lambda_zip_dir = "tests/fixtures/lambda"
}

run "autoscaling_on" {
  command = apply

  assert {
    condition = (
      length(aws_appautoscaling_target.endpoint) == 1 &&
      aws_appautoscaling_target.endpoint[0].resource_id == "endpoint/${aws_sagemaker_endpoint.multi_model.name}/variant/AllTraffic" &&
      aws_appautoscaling_target.endpoint[0].min_capacity == 1 &&
      aws_appautoscaling_target.endpoint[0].max_capacity == 2
    )
    error_message = "The scalable target must be the endpoint's variant, between the min and max instance counts."
  }

  assert {
    condition = alltrue([
      for policy in concat(aws_appautoscaling_policy.invocations, aws_appautoscaling_policy.cpu) :
      policy.resource_id == aws_appautoscaling_target.endpoint[0].resource_id && policy.scalable_dimension == "sagemaker:variant:DesiredInstanceCount"
    ]) && length(aws_appautoscaling_policy.invocations) == 1 && length(aws_appautoscaling_policy.cpu) == 1
    error_message = "Both scaling policies must act on the scalable target."
  }
}

run "autoscaling_off" {
  command = apply

  variables {
    endpoint_autoscaling = false
  }

  assert {
    condition     = length(aws_appautoscaling_target.endpoint) + length(aws_appautoscaling_policy.invocations) + length(aws_appautoscaling_policy.cpu) == 0
    error_message = "endpoint_autoscaling = false creates no autoscaling resources."
  }
}
