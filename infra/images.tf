# The container image every SageMaker job and the endpoint run (image/Dockerfile).

locals {
  # Files the image is built from: a change to any of them yields a new tag, hence a new image,
  # a new pipeline definition and a new endpoint model.
  image_source_files = sort(setunion(
    fileset(local.repo_root, "image/**"),
    fileset(local.repo_root, "pipeline/**"),
    fileset(local.repo_root, "Cargo.{toml,lock}"),
  ))
  image_source_hash = sha256(join("", [for f in local.image_source_files : filesha256("${local.repo_root}/${f}")]))
  image_tag         = coalesce(var.image_tag, "src-${substr(local.image_source_hash, 0, 16)}")

  # Pinned by digest: what runs is exactly what was pushed.
  image_uri = "${aws_ecr_repository.container.repository_url}@${data.aws_ecr_image.container.image_digest}"
}

resource "aws_ecr_repository" "container" {
  #checkov:skip=CKV_AWS_136:AES256 (ECR's default encryption) is used; a customer managed KMS key costs at idle.
  name                 = "${var.project_name}-container"
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.force_destroy

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "AES256"
  }
}

resource "aws_ecr_lifecycle_policy" "container" {
  repository = aws_ecr_repository.container.name

  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the newest ${var.ecr_images_to_keep} images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = var.ecr_images_to_keep
      }
      action = { type = "expire" }
    }]
  })
}

# Builds and pushes the image when its sources change. Tags are immutable, so the script skips
# the build when the tag is already in the repository.
resource "terraform_data" "image" {
  count = var.build_image ? 1 : 0

  triggers_replace = [aws_ecr_repository.container.repository_url, local.image_tag, var.image_platform]

  provisioner "local-exec" {
    working_dir = local.repo_root
    command     = "bash scripts/build-and-push-image.sh"
    environment = {
      MMP_ECR_REPOSITORY_URL = aws_ecr_repository.container.repository_url
      MMP_IMAGE_TAG          = local.image_tag
      MMP_IMAGE_PLATFORM     = var.image_platform
      AWS_REGION             = local.region
    }
  }
}

# Read after the push (depends_on defers it to apply time when the image is being built);
# fails the plan clearly when build_image = false and the tag was not pushed.
data "aws_ecr_image" "container" {
  repository_name = aws_ecr_repository.container.name
  image_tag       = local.image_tag

  depends_on = [terraform_data.image]
}
