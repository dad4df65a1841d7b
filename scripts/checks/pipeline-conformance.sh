#!/usr/bin/env bash
# Checks the generated pipeline definition against the SageMaker API model (botocore), with the
# conformance checker that ships beside the project in ../shared (skipped where it is absent).
set -euo pipefail
cd "$(dirname "$0")/../.."
checker=../shared/conformance/check_pipeline_definition.py
if [ ! -f "$checker" ]; then
  echo "skip: $checker not found (it ships beside the project in CI)"
  exit 0
fi
rendered=$(mktemp --suffix=.json)
trap 'rm -f "$rendered"' EXIT
# Built with the whole workspace's features, so that after the test run this builds nothing.
cargo build -q --workspace --all-features --locked --bin mmp
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
"$target_dir/debug/mmp" pipeline definition \
  --image-uri 123456789012.dkr.ecr.us-east-1.amazonaws.com/mmp:latest \
  --role-arn arn:aws:iam::123456789012:role/mmp-sagemaker \
  --bucket mmp-artifacts --pipeline-name mmp >"$rendered"
python3 "$checker" "$rendered"
