#!/usr/bin/env bash
# Build the mmp container image (image/Dockerfile, repository root as context) and push it to ECR.
#
# Terraform runs this during apply (infra/images.tf) with the variables below set; to run it by
# hand (build_image = false), set them yourself:
#   MMP_ECR_REPOSITORY_URL  <account>.dkr.ecr.<region>.amazonaws.com/<name>   (required)
#   MMP_IMAGE_TAG           tag to push; tags are immutable, so an existing tag is not rebuilt (required)
#   MMP_IMAGE_PLATFORM      docker platform, default linux/amd64
#   AWS_REGION              region of the repository, default: taken from the repository URL
# Needs docker (with buildx for a platform other than the host's) and the AWS CLI v2.
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
  echo "build-and-push-image: $*" >&2
  exit 1
}

repository_url=${MMP_ECR_REPOSITORY_URL:-}
tag=${MMP_IMAGE_TAG:-}
platform=${MMP_IMAGE_PLATFORM:-linux/amd64}

[ -n "$repository_url" ] || die "MMP_ECR_REPOSITORY_URL is not set (e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/mmp-container)"
[ -n "$tag" ] || die "MMP_IMAGE_TAG is not set"
[[ "$repository_url" =~ ^([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/([a-z0-9._/-]+)$ ]] ||
  die "MMP_ECR_REPOSITORY_URL '$repository_url' is not an ECR repository URL"
registry=${repository_url%%/*}
repository_name=${BASH_REMATCH[4]}
region=${AWS_REGION:-${BASH_REMATCH[2]}}

command -v docker >/dev/null 2>&1 || die "docker is not installed"
command -v aws >/dev/null 2>&1 || die "the AWS CLI is not installed"
[ -f image/Dockerfile ] || die "image/Dockerfile not found (run from a checkout of the repository)"

# Tags are immutable: a tag that is already there holds exactly these sources.
if aws ecr describe-images --region "$region" --repository-name "$repository_name" \
  --image-ids "imageTag=$tag" >/dev/null 2>&1; then
  echo "build-and-push-image: $repository_url:$tag already pushed, nothing to do"
  exit 0
fi

echo "build-and-push-image: logging in to $registry"
aws ecr get-login-password --region "$region" |
  docker login --username AWS --password-stdin "$registry"

image="$repository_url:$tag"
echo "build-and-push-image: building $image for $platform"
# SageMaker pulls single-architecture images by digest; no provenance attestation manifests.
DOCKER_BUILDKIT=1 docker build \
  --platform "$platform" \
  --provenance=false \
  --file image/Dockerfile \
  --tag "$image" \
  .

echo "build-and-push-image: pushing $image"
docker push "$image"
echo "build-and-push-image: done"
