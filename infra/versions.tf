terraform {
  # terraform_data (the image build step) needs 1.4; validation blocks that name other
  # variables need 1.9.
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # The offline checks validate and test with 5.100.0 (the version the lock file records);
      # nothing here needs 6.x (see the public Function URL grant in functions.tf).
      version = ">= 5.100.0, < 7.0.0"
    }
  }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = merge(var.tags, { project = var.project_name })
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = var.aws_region
  repo_root  = abspath("${path.module}/..")

  # Prefix of every ARN in this account and region: arn:<partition>:<service>:<region>:<account>:
  sagemaker_arn_prefix = "arn:${local.partition}:sagemaker:${local.region}:${local.account_id}"
}
