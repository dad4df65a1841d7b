# The pipeline definition as Terraform renders it: concrete JSON, every placeholder filled with
# this deployment's role, bucket, image and pipeline name.
mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  build_image    = false
  lambda_zip_dir = "tests/fixtures/lambda"
}

override_resource {
  target = aws_iam_role.sagemaker_pipeline
  values = { arn = "arn:aws:iam::123456789012:role/mmp-sagemaker-pipeline" }
}

run "definition_is_concrete" {
  command = apply

  assert {
    condition     = can(jsondecode(aws_sagemaker_pipeline.this.pipeline_definition))
    error_message = "The pipeline definition must be JSON."
  }

  assert {
    condition     = !strcontains(aws_sagemaker_pipeline.this.pipeline_definition, "$${")
    error_message = "The pipeline definition still holds a template placeholder."
  }

  assert {
    condition     = length(jsondecode(aws_sagemaker_pipeline.this.pipeline_definition).Steps) > 0
    error_message = "The pipeline definition has no steps."
  }

  # Every job runs with the pipeline role, which is the role the pipeline itself runs with.
  assert {
    condition = (
      length(regexall("\"RoleArn\": *\"[^\"]*\"", aws_sagemaker_pipeline.this.pipeline_definition)) > 0 &&
      toset(regexall("\"RoleArn\": *\"([^\"]*)\"", aws_sagemaker_pipeline.this.pipeline_definition)[*][0]) == toset(["arn:aws:iam::123456789012:role/mmp-sagemaker-pipeline"]) &&
      aws_sagemaker_pipeline.this.role_arn == "arn:aws:iam::123456789012:role/mmp-sagemaker-pipeline"
    )
    error_message = "Every RoleArn in the definition must be the pipeline role's ARN."
  }

  # Every image is the pushed image, pinned by digest.
  assert {
    condition = (
      length(regexall("\"(ImageUri|TrainingImage)\": *\"[^\"]*\"", aws_sagemaker_pipeline.this.pipeline_definition)) > 0 &&
      toset(regexall("\"(?:ImageUri|TrainingImage)\": *\"([^\"]*)\"", aws_sagemaker_pipeline.this.pipeline_definition)[*][0]) == toset([output.image_uri]) &&
      output.image_uri == "123456789012.dkr.ecr.us-east-1.amazonaws.com/mmp-container@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    )
    error_message = "Every image in the definition must be the ECR image pinned by digest."
  }

  # S3 paths are joined from the bucket and the pipeline name.
  assert {
    condition     = strcontains(aws_sagemaker_pipeline.this.pipeline_definition, "\"${aws_s3_bucket.data.id}\"") && strcontains(aws_sagemaker_pipeline.this.pipeline_definition, "\"mmp\"")
    error_message = "The definition must name the data bucket and the pipeline."
  }

  assert {
    condition     = aws_sagemaker_pipeline.this.pipeline_name == "mmp"
    error_message = "The pipeline is named after project_name."
  }
}
