# Every validated variable refuses a bad value (plan stops at the validation).
mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  build_image    = false
  lambda_zip_dir = "tests/fixtures/lambda"
}

# The good values used in the runs below pass, so each failure is the one expected.
run "edge_values_accepted" {
  command = plan

  variables {
    project_name                   = "abc"
    image_tag                      = "v1.2.3"
    job_scratch_expiration_days    = 0
    pinned_dataset_expiration_days = 0
    min_endpoint_instances         = 2
    max_endpoint_instances         = 2
    invoker_reserved_concurrency   = 1
    function_url_auth_type         = "NONE"
    alarm_topic_arn                = "arn:aws:sns:eu-west-1:123456789012:on-call.fifo"
    alarm_period_seconds           = 60
    endpoint_latency_alarm_ms      = 60000
  }
}

run "project_name_refused" {
  # upper case
  command = plan

  variables {
    project_name = "MMP"
  }

  expect_failures = [var.project_name]
}

run "project_name_refused_2" {
  # too long
  command = plan

  variables {
    project_name = "a-project-name-that-is-too-long"
  }

  expect_failures = [var.project_name]
}

run "project_name_refused_3" {
  # ends with a hyphen
  command = plan

  variables {
    project_name = "mmp-"
  }

  expect_failures = [var.project_name]
}

run "aws_region_refused" {
  # not a region code
  command = plan

  variables {
    aws_region = "us_east_1"
  }

  expect_failures = [var.aws_region]
}

run "image_tag_refused" {
  # not a Docker tag
  command = plan

  variables {
    image_tag = "-bad tag"
  }

  expect_failures = [var.image_tag]
}

run "image_platform_refused" {
  # unsupported platform
  command = plan

  variables {
    image_platform = "linux/386"
  }

  expect_failures = [var.image_platform]
}

run "ecr_images_to_keep_refused" {
  # keeps nothing
  command = plan

  variables {
    ecr_images_to_keep = 0
  }

  expect_failures = [var.ecr_images_to_keep]
}

run "job_scratch_expiration_days_refused" {
  # not whole
  command = plan

  variables {
    job_scratch_expiration_days = 1.5
  }

  expect_failures = [var.job_scratch_expiration_days]
}

run "job_scratch_expiration_days_refused_2" {
  # negative
  command = plan

  variables {
    job_scratch_expiration_days = -1
  }

  expect_failures = [var.job_scratch_expiration_days]
}

run "pinned_dataset_expiration_days_refused" {
  # not whole
  command = plan

  variables {
    pinned_dataset_expiration_days = 2.5
  }

  expect_failures = [var.pinned_dataset_expiration_days]
}

run "pinned_dataset_expiration_days_refused_2" {
  # negative
  command = plan

  variables {
    pinned_dataset_expiration_days = -1
  }

  expect_failures = [var.pinned_dataset_expiration_days]
}

run "noncurrent_version_expiration_days_refused" {
  # zero
  command = plan

  variables {
    noncurrent_version_expiration_days = 0
  }

  expect_failures = [var.noncurrent_version_expiration_days]
}

run "inference_instance_type_refused" {
  # not an ml.* type
  command = plan

  variables {
    inference_instance_type = "t2.medium"
  }

  expect_failures = [var.inference_instance_type]
}

run "min_endpoint_instances_refused" {
  # no instance
  command = plan

  variables {
    min_endpoint_instances = 0
  }

  expect_failures = [var.min_endpoint_instances]
}

run "max_endpoint_instances_refused" {
  # below the minimum
  command = plan

  variables {
    max_endpoint_instances = 1
    min_endpoint_instances = 2
  }

  expect_failures = [var.max_endpoint_instances]
}

run "target_invocations_per_instance_refused" {
  # zero
  command = plan

  variables {
    target_invocations_per_instance = 0
  }

  expect_failures = [var.target_invocations_per_instance]
}

run "target_cpu_utilization_refused" {
  # negative
  command = plan

  variables {
    target_cpu_utilization = -5
  }

  expect_failures = [var.target_cpu_utilization]
}

run "invoker_reserved_concurrency_refused" {
  # zero would stop the invoker
  command = plan

  variables {
    invoker_reserved_concurrency = 0
  }

  expect_failures = [var.invoker_reserved_concurrency]
}

run "invoker_reserved_concurrency_refused_2" {
  # not whole
  command = plan

  variables {
    invoker_reserved_concurrency = 2.5
  }

  expect_failures = [var.invoker_reserved_concurrency]
}

run "function_url_auth_type_refused" {
  # unknown auth type
  command = plan

  variables {
    function_url_auth_type = "PUBLIC"
  }

  expect_failures = [var.function_url_auth_type]
}

run "function_memory_mb_refused" {
  # below Lambda's minimum
  command = plan

  variables {
    function_memory_mb = 64
  }

  expect_failures = [var.function_memory_mb]
}

run "function_timeout_seconds_refused" {
  # above Lambda's maximum
  command = plan

  variables {
    function_timeout_seconds = 901
  }

  expect_failures = [var.function_timeout_seconds]
}

run "trigger_claim_timeout_seconds_refused" {
  # too short
  command = plan

  variables {
    trigger_claim_timeout_seconds = 5
  }

  expect_failures = [var.trigger_claim_timeout_seconds]
}

run "invoker_route_cache_ttl_seconds_refused" {
  # too long
  command = plan

  variables {
    invoker_route_cache_ttl_seconds = 301
  }

  expect_failures = [var.invoker_route_cache_ttl_seconds]
}

run "invoker_max_request_bytes_refused" {
  # above the 6 MB limit
  command = plan

  variables {
    invoker_max_request_bytes = 7000000
  }

  expect_failures = [var.invoker_max_request_bytes]
}

run "log_retention_days_refused" {
  # not a retention CloudWatch accepts
  command = plan

  variables {
    log_retention_days = 2
  }

  expect_failures = [var.log_retention_days]
}

run "event_max_retry_attempts_refused" {
  # above EventBridge's maximum
  command = plan

  variables {
    event_max_retry_attempts = 186
  }

  expect_failures = [var.event_max_retry_attempts]
}

run "event_max_age_seconds_refused" {
  # below EventBridge's minimum
  command = plan

  variables {
    event_max_age_seconds = 30
  }

  expect_failures = [var.event_max_age_seconds]
}

run "dead_letter_retention_seconds_refused" {
  # above SQS's maximum
  command = plan

  variables {
    dead_letter_retention_seconds = 1209601
  }

  expect_failures = [var.dead_letter_retention_seconds]
}

run "alarm_topic_arn_refused" {
  # not an SNS topic
  command = plan

  variables {
    alarm_topic_arn = "arn:aws:sqs:us-east-1:123456789012:queue"
  }

  expect_failures = [var.alarm_topic_arn]
}

run "alarm_period_seconds_refused" {
  # not a supported period
  command = plan

  variables {
    alarm_period_seconds = 120
  }

  expect_failures = [var.alarm_period_seconds]
}

run "endpoint_latency_alarm_ms_refused" {
  # zero
  command = plan

  variables {
    endpoint_latency_alarm_ms = 0
  }

  expect_failures = [var.endpoint_latency_alarm_ms]
}
