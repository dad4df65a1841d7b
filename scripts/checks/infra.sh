#!/usr/bin/env bash
# Offline checks of the Terraform configuration in infra/: static analysis (checkov; every
# skipped check carries its reason inline) and every granted IAM action against AWS's action
# list (infra/check/iam_actions.py). Terraform's own checks (fmt, validate, test) run in
# scripts/checks/terraform.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."

python=${PYTHON:-python3}
checkov_bin=${CHECKOV:-checkov}
if ! command -v "$checkov_bin" >/dev/null 2>&1; then
  echo "infra: checkov is not installed (pip install -r .ci/pip/infra.txt)" >&2
  exit 1
fi
echo "infra: checkov on infra/"
# --skip-download: no policy or guideline downloads (offline); the built-in checks still run.
# infra/tests holds terraform test files, not deployed configuration (and checkov's HCL parser
# cannot read all of them).
"$checkov_bin" --directory infra --framework terraform --skip-download --compact --quiet --skip-path infra/tests

echo "infra: IAM actions against the Service Authorization Reference"
"$python" infra/check/iam_actions.py infra
