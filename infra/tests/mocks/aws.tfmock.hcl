# Values the mocked AWS provider returns, shaped like real ones (account 123456789012,
# partition aws), so that rendered ARNs and URIs look as they do on AWS.

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
    arn        = "arn:aws:iam::123456789012:user/tester"
    user_id    = "AIDAEXAMPLEUSERID0001"
    id         = "123456789012"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition          = "aws"
    dns_suffix         = "amazonaws.com"
    reverse_dns_prefix = "com.amazonaws"
    id                 = "aws"
  }
}

mock_data "aws_ecr_image" {
  defaults = {
    image_digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  }
}

mock_resource "aws_ecr_repository" {
  defaults = {
    arn            = "arn:aws:ecr:us-east-1:123456789012:repository/mmp-container"
    repository_url = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mmp-container"
  }
}

mock_resource "aws_iam_role" {
  defaults = {
    arn = "arn:aws:iam::123456789012:role/mmp-mock-role"
  }
}

mock_resource "aws_s3_bucket" {
  defaults = {
    id  = "mmp-123456789012-us-east-1"
    arn = "arn:aws:s3:::mmp-123456789012-us-east-1"
  }
}

mock_resource "aws_sqs_queue" {
  defaults = {
    arn = "arn:aws:sqs:us-east-1:123456789012:mmp-dead-letters"
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/mmp-dead-letters"
  }
}

mock_resource "aws_sagemaker_pipeline" {
  defaults = {
    arn = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/mmp"
  }
}

mock_resource "aws_sagemaker_endpoint" {
  defaults = {
    arn = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/mmp-endpoint"
  }
}

mock_resource "aws_lambda_function" {
  defaults = {
    arn        = "arn:aws:lambda:us-east-1:123456789012:function:mmp-mock"
    invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:mmp-mock/invocations"
  }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = {
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/mmp-mock"
  }
}

mock_resource "aws_cloudwatch_event_rule" {
  defaults = {
    arn = "arn:aws:events:us-east-1:123456789012:rule/mmp-mock"
  }
}

mock_resource "aws_cloudwatch_metric_alarm" {
  defaults = {
    arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:mmp-mock"
  }
}

mock_resource "aws_sns_topic" {
  defaults = {
    arn = "arn:aws:sns:us-east-1:123456789012:mmp-mock"
  }
}

# Policy documents are data sources, so the mock replaces them too: a valid empty policy keeps
# the roles' validation happy. The rendered policies are tested in iam.tftest.hcl with the real
# provider, which computes them without calling AWS.
mock_data "aws_iam_policy_document" {
  defaults = {
    json          = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    minified_json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
  }
}
