# The one bucket of the system. Layout (docs/architecture.md): datasets/ (uploads), pipelines/
# (job inputs and outputs), endpoint/models/ (the multi-model prefix), endpoint/routing.json
# (the routing table), reports/ (the metrics reporter's output).

locals {
  bucket_name = "${var.project_name}-${local.account_id}-${local.region}"

  prefix_datasets  = "datasets/"
  prefix_pipelines = "pipelines/"
  # Where this pipeline's executions keep their job data: pipelines/<pipeline>/<execution-id>/<step>/.
  prefix_pipeline_runs  = "${local.prefix_pipelines}${local.pipeline_name}/"
  prefix_endpoint       = "endpoint/"
  prefix_endpoint_model = "endpoint/models/"
  key_routing_table     = "endpoint/routing.json"
  prefix_reports        = "reports/"
  # The trigger's idempotency claims: one small object per upload it started an execution for.
  prefix_trigger_claims = "triggers/"
  # The trigger's immutable copy of each upload (<dataset>/<etag>/<file>), what its execution
  # reads; outside datasets/ so that writing one starts nothing.
  prefix_pinned_datasets = "pinned-datasets/"
  # Where the trigger records the uploads it started nothing for, and why.
  prefix_rejected_uploads = "${local.prefix_reports}rejected-uploads/"

  # The S3 URI the endpoint's model loads artifacts from (TargetModel is relative to it).
  multi_model_uri = "s3://${aws_s3_bucket.data.id}/${local.prefix_endpoint_model}"
}

resource "aws_s3_bucket" "data" {
  #checkov:skip=CKV_AWS_18:Access logging needs a second bucket that costs at idle; CloudTrail data events can be enabled account-wide instead.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage cost; datasets are re-uploadable and models are rebuilt by the pipeline.
  #checkov:skip=CKV_AWS_145:SSE-S3 is used instead of a customer managed KMS key (a CMK costs at idle and every role would need kms grants).
  bucket        = local.bucket_name
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_ownership_controls" "data" {
  bucket = aws_s3_bucket.data.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "data" {
  bucket = aws_s3_bucket.data.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "data" {
  bucket = aws_s3_bucket.data.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "data" {
  bucket = aws_s3_bucket.data.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "data" {
  bucket = aws_s3_bucket.data.id

  # Versioning must be on before noncurrent-version rules mean anything.
  depends_on = [aws_s3_bucket_versioning.data]

  rule {
    id     = "abort-incomplete-uploads-and-expire-old-versions"
    status = "Enabled"

    # The whole bucket ("filter {}" draws a provider warning since 5.90).
    filter {
      prefix = ""
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    expiration {
      expired_object_delete_marker = true
    }
  }

  rule {
    # A claim only has to outlive the duplicate deliveries of its upload's event.
    id     = "expire-trigger-claims"
    status = "Enabled"

    filter {
      prefix = local.prefix_trigger_claims
    }

    expiration {
      days = 30
    }
  }

  rule {
    # A pinned upload is the input its execution reads and the lineage (input_data_uri) of the
    # model version it registered; kept as long as the job data those versions point at.
    id     = "expire-pinned-datasets"
    status = var.pinned_dataset_expiration_days > 0 ? "Enabled" : "Disabled"

    filter {
      prefix = local.prefix_pinned_datasets
    }

    expiration {
      days = max(var.pinned_dataset_expiration_days, 1)
    }
  }

  rule {
    id     = "expire-job-scratch"
    status = var.job_scratch_expiration_days > 0 ? "Enabled" : "Disabled"

    filter {
      prefix = local.prefix_pipelines
    }

    expiration {
      days = max(var.job_scratch_expiration_days, 1)
    }
  }
}

# Every request must use TLS; nothing else is granted here (access comes from identity policies).
data "aws_iam_policy_document" "bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.data.arn,
      "${aws_s3_bucket.data.arn}/*",
    ]

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

  statement {
    sid     = "DenyOutdatedTls"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.data.arn,
      "${aws_s3_bucket.data.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

resource "aws_s3_bucket_policy" "data" {
  bucket = aws_s3_bucket.data.id
  policy = data.aws_iam_policy_document.bucket.json

  # Putting a bucket policy while the public access block is being created can fail.
  depends_on = [aws_s3_bucket_public_access_block.data]
}
