#!/usr/bin/env bash
# Offline checks of the Terraform configuration in infra/: formatting (terraform fmt), static
# analysis (checkov; every skipped check carries its reason inline) and every granted IAM action
# against AWS's action list (infra/check/iam_actions.py). The HCL parse and the cross-checks
# against the code run with `cargo test` (crate mmp-infra-check).
# `terraform init/validate` need the provider registry and are not run here.
set -euo pipefail
cd "$(dirname "$0")/../.."

if command -v terraform >/dev/null 2>&1; then
  echo "infra: terraform fmt -check -recursive infra"
  terraform fmt -check -recursive -diff infra
else
  echo "infra: SKIPPED terraform fmt: terraform is not installed" >&2
fi

python=${PYTHON:-python3}
checkov_bin=${CHECKOV:-checkov}
if ! command -v "$checkov_bin" >/dev/null 2>&1; then
  echo "infra: checkov is not installed (pip install -r .ci/pip/infra.txt)" >&2
  exit 1
fi
echo "infra: checkov on infra/"
# --skip-download: no policy or guideline downloads (offline); the built-in checks still run.
"$checkov_bin" --directory infra --framework terraform --skip-download --compact --quiet

echo "infra: IAM actions against the Service Authorization Reference"
"$python" infra/check/iam_actions.py infra
