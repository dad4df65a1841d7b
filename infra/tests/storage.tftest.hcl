# The bucket's lifecycle as Terraform renders it: the trigger's pinned uploads (what each
# execution reads, and each model version's input_data_uri) expire after
# pinned_dataset_expiration_days, or never with 0.
mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  build_image    = false
  lambda_zip_dir = "tests/fixtures/lambda"
}

run "pinned_uploads_expire_after_the_variable" {
  command = plan

  variables {
    pinned_dataset_expiration_days = 365
  }

  assert {
    condition = one([
      for rule in aws_s3_bucket_lifecycle_configuration.data.rule :
      rule.status == "Enabled" && one(rule.filter).prefix == "pinned-datasets/" && one(rule.expiration).days == 365
      if rule.id == "expire-pinned-datasets"
    ])
    error_message = "pinned-datasets/ must expire after pinned_dataset_expiration_days."
  }

  assert {
    condition     = aws_lambda_function.function["pipeline-trigger"].environment[0].variables.MMP_PINNED_DATASETS_PREFIX == "pinned-datasets/"
    error_message = "The trigger must pin under the prefix the lifecycle rule expires."
  }
}

run "pinned_uploads_kept_with_0" {
  command = plan

  variables {
    pinned_dataset_expiration_days = 0
  }

  assert {
    condition = one([
      for rule in aws_s3_bucket_lifecycle_configuration.data.rule : rule.status if rule.id == "expire-pinned-datasets"
    ]) == "Disabled"
    error_message = "With 0 the pinned uploads are kept forever."
  }
}
