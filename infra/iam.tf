# Every role grants only what its code calls, on the resources it touches. Statements are
# one per purpose; infra/tests/iam.tftest.hcl compares each function's rendered actions with its
# crate's IAM_ACTIONS, and infra/check refuses `*` actions and `*` resources where AWS allows
# narrowing.

locals {
  bucket_arn = aws_s3_bucket.data.arn
  logs_arn   = "arn:${local.partition}:logs:${local.region}:${local.account_id}"
}

# --- Trust ---

data "aws_iam_policy_document" "assume_sagemaker" {
  statement {
    sid     = "SageMakerOfThisAccount"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    sid     = "LambdaOfThisAccount"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# --- SageMaker pipeline execution role: the pipeline service starts the jobs with it, and the
#     jobs (mmp-container) run with it ---

resource "aws_iam_role" "sagemaker_pipeline" {
  name               = "${var.project_name}-sagemaker-pipeline"
  description        = "Runs the ${var.project_name} pipeline's steps and jobs."
  assume_role_policy = data.aws_iam_policy_document.assume_sagemaker.json
}

data "aws_iam_policy_document" "sagemaker_pipeline" {
  statement {
    # InputDataUri: the trigger's pinned copy of an upload (or, started by hand, an upload).
    sid       = "ReadUploadedDatasets"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/${local.prefix_datasets}*", "${local.bucket_arn}/${local.prefix_pinned_datasets}*"]
  }

  statement {
    sid       = "ReadWriteJobData"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${local.bucket_arn}/${local.prefix_pipeline_runs}*"]
  }

  statement {
    sid       = "LocateBucket"
    actions   = ["s3:GetBucketLocation"]
    resources = [local.bucket_arn]
  }

  statement {
    # A request for GetBucketLocation carries no s3:prefix, hence its own statement above.
    sid       = "ListJobPrefixes"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.prefix_datasets}*", "${local.prefix_pinned_datasets}*", "${local.prefix_pipeline_runs}*"]
    }
  }

  statement {
    sid     = "PullContainerImage"
    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [
      aws_ecr_repository.container.arn,
    ]
  }

  statement {
    # GetAuthorizationToken has no resource type: it can only be granted on "*".
    sid       = "AuthenticateToEcr"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid     = "WriteJobLogs"
    actions = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = [
      "${local.logs_arn}:log-group:/aws/sagemaker/ProcessingJobs",
      "${local.logs_arn}:log-group:/aws/sagemaker/ProcessingJobs:log-stream:*",
      "${local.logs_arn}:log-group:/aws/sagemaker/TrainingJobs",
      "${local.logs_arn}:log-group:/aws/sagemaker/TrainingJobs:log-stream:*",
    ]
  }

  statement {
    # PutMetricData has no resource type; the namespace condition narrows it to SageMaker's.
    sid       = "PublishJobMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]

    condition {
      test     = "StringLike"
      variable = "cloudwatch:namespace"
      values   = ["/aws/sagemaker/*"]
    }
  }

  statement {
    sid = "RunPipelineJobs"
    actions = [
      "sagemaker:CreateProcessingJob",
      "sagemaker:DescribeProcessingJob",
      "sagemaker:StopProcessingJob",
      "sagemaker:CreateTrainingJob",
      "sagemaker:DescribeTrainingJob",
      "sagemaker:StopTrainingJob",
      "sagemaker:CreateHyperParameterTuningJob",
      "sagemaker:DescribeHyperParameterTuningJob",
      "sagemaker:StopHyperParameterTuningJob",
      "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
      # The pipeline service tags the jobs it starts with their execution.
      "sagemaker:AddTags",
    ]
    resources = [
      "${local.sagemaker_arn_prefix}:processing-job/*",
      "${local.sagemaker_arn_prefix}:training-job/*",
      "${local.sagemaker_arn_prefix}:hyper-parameter-tuning-job/*",
    ]
  }

  statement {
    sid = "RegisterModelVersions"
    actions = [
      "sagemaker:CreateModelPackageGroup",
      "sagemaker:DescribeModelPackageGroup",
      "sagemaker:CreateModelPackage",
      "sagemaker:DescribeModelPackage",
      "sagemaker:AddTags",
    ]
    resources = [
      local.model_package_group_arn_pattern,
      "${local.model_package_arn_pattern}/*",
    ]
  }

  statement {
    # The definition's PipelineExperimentConfig: one experiment named after the pipeline, one
    # trial per execution, the jobs' trial components associated with it.
    sid = "TrackExecutionsAsExperiments"
    actions = [
      "sagemaker:CreateExperiment",
      "sagemaker:DescribeExperiment",
      "sagemaker:CreateTrial",
      "sagemaker:DescribeTrial",
      "sagemaker:AssociateTrialComponent",
    ]
    resources = [
      "${local.sagemaker_arn_prefix}:experiment/${local.pipeline_name}",
      "${local.sagemaker_arn_prefix}:experiment-trial/*",
      "${local.sagemaker_arn_prefix}:experiment-trial-component/*",
    ]
  }

  statement {
    # The pipeline hands its own role to the jobs it starts, and to nothing else.
    sid       = "PassOwnRoleToJobs"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.sagemaker_pipeline.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["sagemaker.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "sagemaker_pipeline" {
  name   = "pipeline-jobs"
  role   = aws_iam_role.sagemaker_pipeline.id
  policy = data.aws_iam_policy_document.sagemaker_pipeline.json
}

# --- SageMaker endpoint execution role: the serving container loads deployed artifacts ---

resource "aws_iam_role" "sagemaker_endpoint" {
  name               = "${var.project_name}-sagemaker-endpoint"
  description        = "Runs the ${var.project_name} multi-model endpoint."
  assume_role_policy = data.aws_iam_policy_document.assume_sagemaker.json
}

data "aws_iam_policy_document" "sagemaker_endpoint" {
  statement {
    sid       = "ReadDeployedModels"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/${local.prefix_endpoint_model}*"]
  }

  statement {
    # Lets a missing artifact read as "not found" instead of "access denied".
    sid       = "ListDeployedModels"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.prefix_endpoint_model}*"]
    }
  }

  statement {
    sid       = "PullContainerImage"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [aws_ecr_repository.container.arn]
  }

  statement {
    # GetAuthorizationToken has no resource type: it can only be granted on "*".
    sid       = "AuthenticateToEcr"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid     = "WriteEndpointLogs"
    actions = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = [
      "${local.logs_arn}:log-group:/aws/sagemaker/Endpoints/${local.endpoint_name}",
      "${local.logs_arn}:log-group:/aws/sagemaker/Endpoints/${local.endpoint_name}:log-stream:*",
    ]
  }

  statement {
    # PutMetricData has no resource type; the namespace condition narrows it to SageMaker's.
    sid       = "PublishEndpointMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]

    condition {
      test     = "StringLike"
      variable = "cloudwatch:namespace"
      values   = ["/aws/sagemaker/*"]
    }
  }
}

resource "aws_iam_role_policy" "sagemaker_endpoint" {
  name   = "serve-models"
  role   = aws_iam_role.sagemaker_endpoint.id
  policy = data.aws_iam_policy_document.sagemaker_endpoint.json
}

# --- Lambda functions: one role each ---

resource "aws_iam_role" "function" {
  for_each = local.functions

  name               = "${var.project_name}-${each.key}"
  description        = "Runs the ${var.project_name} ${each.key} function."
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
}

# What the Lambda runtime itself needs: the function's own log group, and (asynchronous
# functions) its dead-letter queue.
data "aws_iam_policy_document" "function_runtime" {
  for_each = local.functions

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function[each.key].arn}:log-stream:*"]
  }

  dynamic "statement" {
    for_each = each.value.async ? [aws_sqs_queue.dead_letter.arn] : []
    content {
      sid       = "SendFailedInvocations"
      actions   = ["sqs:SendMessage"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "function_runtime" {
  for_each = local.functions

  name   = "runtime"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.function_runtime[each.key].json
}

resource "aws_iam_role_policy" "function_access" {
  for_each = local.functions

  name   = "access"
  role   = aws_iam_role.function[each.key].id
  policy = local.function_policies[each.key]
}

data "aws_iam_policy_document" "pipeline_trigger" {
  statement {
    # Lets a missing key read as "not found" rather than "access denied", which the handlers
    # treat differently. Key names only, under the prefixes this function reads.
    sid       = "TellMissingFromForbidden"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.prefix_datasets}*", "${local.prefix_trigger_claims}*", "${local.prefix_pinned_datasets}*"]
    }
  }

  statement {
    # Settings, and the source of the pinning copy: the current object, or the version the
    # event names (the bucket is versioned).
    sid       = "ReadUploadsAndSettings"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${local.bucket_arn}/${local.prefix_datasets}*"]
  }

  statement {
    # The copy each execution reads (CopyObject's destination), and whether a delivery of the
    # same event pinned it already.
    sid       = "PinUploads"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${local.bucket_arn}/${local.prefix_pinned_datasets}*"]
  }

  statement {
    # An upload that started nothing is recorded where users look.
    sid       = "RecordRejectedUploads"
    actions   = ["s3:PutObject"]
    resources = ["${local.bucket_arn}/${local.prefix_rejected_uploads}*"]
  }

  statement {
    # One claim per upload (conditional put), so a duplicate event starts nothing; a claim
    # whose execution failed to start is deleted so that a retry may take it.
    sid       = "ClaimUploads"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.bucket_arn}/${local.prefix_trigger_claims}*"]
  }

  statement {
    sid       = "StartExecutions"
    actions   = ["sagemaker:StartPipelineExecution"]
    resources = [aws_sagemaker_pipeline.this.arn]
  }
}

data "aws_iam_policy_document" "model_deployer" {
  statement {
    # Lets a missing key read as "not found" rather than "access denied", which the handlers
    # treat differently. Key names only, under the prefixes this function reads.
    sid       = "TellMissingFromForbidden"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.prefix_pipeline_runs}*", "${local.prefix_endpoint}*"]
    }
  }

  statement {
    # A list call is authorized against model-package/* of the account and region, not against
    # one group, so it cannot be narrowed further than that.
    sid       = "ListModelVersions"
    actions   = ["sagemaker:ListModelPackages"]
    resources = ["${local.sagemaker_arn_prefix}:model-package/*"]
  }

  statement {
    sid       = "DescribeModelVersions"
    actions   = ["sagemaker:DescribeModelPackage"]
    resources = ["${local.model_package_arn_pattern}/*"]
  }

  statement {
    sid       = "ReadRegisteredArtifacts"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/${local.prefix_pipeline_runs}*"]
  }

  statement {
    # Copy in (Get on the source above, Put here), look before copying (Head needs Get),
    # retire what no route names any more (Delete).
    sid       = "PublishDeployedArtifacts"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.bucket_arn}/${local.prefix_endpoint_model}*"]
  }

  statement {
    sid       = "UpdateRoutingTable"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${local.bucket_arn}/${local.key_routing_table}"]
  }
}

data "aws_iam_policy_document" "endpoint_invoker" {
  statement {
    # Lets a missing key read as "not found" rather than "access denied", which the handlers
    # treat differently. Key names only, under the prefixes this function reads.
    sid       = "TellMissingFromForbidden"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.prefix_endpoint}*"]
    }
  }

  statement {
    sid       = "ReadRoutingTable"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/${local.key_routing_table}"]
  }

  statement {
    sid       = "InvokeEndpoint"
    actions   = ["sagemaker:InvokeEndpoint"]
    resources = [aws_sagemaker_endpoint.multi_model.arn]
  }
}

data "aws_iam_policy_document" "metrics_reporter" {
  statement {
    # Lets a missing key read as "not found" rather than "access denied", which the handlers
    # treat differently. Key names only, under the prefixes this function reads.
    sid       = "TellMissingFromForbidden"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.prefix_pipeline_runs}*", "${local.prefix_reports}*"]
    }
  }

  statement {
    sid = "ReadExecutions"
    actions = [
      "sagemaker:DescribePipelineExecution",
      "sagemaker:ListPipelineExecutionSteps",
      "sagemaker:ListPipelineParametersForExecution",
    ]
    resources = ["${aws_sagemaker_pipeline.this.arn}/execution/*"]
  }

  statement {
    sid       = "ReadRegisteredVersions"
    actions   = ["sagemaker:DescribeModelPackage"]
    resources = ["${local.model_package_arn_pattern}/*"]
  }

  statement {
    sid       = "ReadEvaluationReports"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/${local.prefix_pipeline_runs}*"]
  }

  statement {
    sid       = "WriteReports"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${local.bucket_arn}/${local.prefix_reports}*"]
  }
}
