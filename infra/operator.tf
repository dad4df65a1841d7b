# The operators' policy: exactly what `mmp --target aws` calls (upload, executions, models,
# approve, reject, invoke, and the console `mmp --target aws up` serves;
# local/mmp/src/operator.rs's IAM_ACTIONS, which infra/tests/emulator/test_deployed.py holds
# this policy against). Attach it to the people or
# roles who run the system.
data "aws_iam_policy_document" "operator" {
  statement {
    # Lets a missing key read as "not found" rather than "access denied". Key names only,
    # under the prefixes the commands read.
    sid       = "TellMissingFromForbidden"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.prefix_datasets}*", "${local.prefix_endpoint}*", "${local.prefix_reports}*", "${local.prefix_pipeline_runs}*"]
    }
  }

  statement {
    # Uploads start executions; a dataset's pipeline.json is read before an upload without one.
    sid       = "UploadDatasets"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${local.bucket_arn}/${local.prefix_datasets}*"]
  }

  statement {
    # What is served, the reports, and each version's evaluation.json.
    sid     = "ReadRoutingReportsAndEvaluations"
    actions = ["s3:GetObject"]
    resources = [
      "${local.bucket_arn}/${local.key_routing_table}",
      "${local.bucket_arn}/${local.prefix_reports}*",
      "${local.bucket_arn}/${local.prefix_pipeline_runs}*",
    ]
  }

  statement {
    sid       = "ListExecutions"
    actions   = ["sagemaker:ListPipelineExecutions"]
    resources = [aws_sagemaker_pipeline.this.arn]
  }

  statement {
    sid       = "ReadExecutionSteps"
    actions   = ["sagemaker:ListPipelineExecutionSteps", "sagemaker:ListPipelineParametersForExecution"]
    resources = ["${aws_sagemaker_pipeline.this.arn}/execution/*"]
  }

  statement {
    # A tuning step's trials and their objective values. The pipeline names its tuning jobs
    # itself, so no narrower pattern holds them.
    sid       = "ReadTuningTrials"
    actions   = ["sagemaker:ListTrainingJobsForHyperParameterTuningJob"]
    resources = ["${local.sagemaker_arn_prefix}:hyper-parameter-tuning-job/*"]
  }

  statement {
    # SageMaker authorizes this list against no resource.
    sid       = "ListModelGroups"
    actions   = ["sagemaker:ListModelPackageGroups"]
    resources = ["*"]
  }

  statement {
    # Authorized against model-package/* (see the deployer's ListModelVersions).
    sid       = "ListModelVersions"
    actions   = ["sagemaker:ListModelPackages"]
    resources = ["${local.sagemaker_arn_prefix}:model-package/*"]
  }

  statement {
    # Approving or rejecting a version of this pipeline's groups is what deploys or withdraws it.
    sid       = "ReadAndDecideModelVersions"
    actions   = ["sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage"]
    resources = ["${local.model_package_arn_pattern}/*"]
  }

  statement {
    sid       = "InvokePredictionUrl"
    actions   = ["lambda:InvokeFunctionUrl"]
    resources = [aws_lambda_function.function["endpoint-invoker"].arn]
  }
}

resource "aws_iam_policy" "operator" {
  name        = "${var.project_name}-operator"
  description = "What the ${var.project_name} operator commands (mmp --target aws) call."
  policy      = data.aws_iam_policy_document.operator.json
}
