#!/usr/bin/env bash
# Terraform's own checks of infra/, offline: formatting, `init` from the provider mirror with the
# committed lock file, `validate` with the real provider schema, and `terraform test`
# (infra/tests/*.tftest.hcl: what the configuration renders, against the code's contract).
#
# The code contract (each function crate's ENV_VARS and IAM_ACTIONS, as JSON) is generated from
# the Rust code (MMP_BIN_DIR/code-contract when scripts/test.sh built it); MMP_CODE_CONTRACT=FILE
# uses a file instead. MMP_TF_DATA_DIR keeps Terraform's
# working data (default: a temporary folder, removed afterwards); nothing is written to infra/.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v terraform >/dev/null 2>&1; then
  echo "terraform: terraform is not installed; these checks need it (1.9 or newer)" >&2
  exit 1
fi
# shellcheck source=../terraform-offline-env.sh
source scripts/terraform-offline-env.sh

work=$(mktemp -d "${TMPDIR:-/tmp}/mmp-terraform.XXXXXX")
trap 'rm -rf "$work"' EXIT
export TF_DATA_DIR=${MMP_TF_DATA_DIR:-$work/data}
export TF_IN_AUTOMATION=1

echo "terraform: fmt -check -recursive infra"
terraform fmt -check -recursive -diff infra

echo "terraform: init (lock file read-only) and validate"
terraform -chdir=infra init -backend=false -lockfile=readonly -input=false -no-color >"$work/init.log" ||
  { cat "$work/init.log" >&2; exit 1; }
terraform -chdir=infra validate -no-color

if [ -n "${MMP_CODE_CONTRACT:-}" ]; then
  contract=$MMP_CODE_CONTRACT
elif [ -x "${MMP_BIN_DIR:-}/code-contract" ]; then
  # scripts/test.sh has built it already.
  contract=$work/code-contract.json
  "$MMP_BIN_DIR/code-contract" >"$contract"
else
  contract=$work/code-contract.json
  echo "terraform: code contract from the crates (cargo run -p mmp-infra-check --bin code-contract)"
  cargo run -q --locked -p mmp-infra-check --bin code-contract >"$contract"
fi
python3 -c 'import json, sys; json.load(open(sys.argv[1]))["functions"]' "$contract" ||
  { echo "terraform: $contract is not a code contract ({\"functions\": {...}})" >&2; exit 1; }
contract=$(cd "$(dirname "$contract")" && pwd)/$(basename "$contract")

# Every validated variable must have a test that feeds it a bad value.
python3 - infra <<'PY'
import pathlib, re, sys
infra = pathlib.Path(sys.argv[1])
blocks = re.split(r'^variable "', (infra / "variables.tf").read_text(), flags=re.M)[1:]
validated = {b.split('"', 1)[0] for b in blocks if re.search(r"^\s*validation \{", b, re.M)}
tests = "".join(p.read_text() for p in (infra / "tests").glob("*.tftest.hcl"))
tested = set(re.findall(r"expect_failures\s*=\s*\[\s*var\.([a-z0-9_]+)", tests))
missing = sorted(validated - tested)
if missing:
    sys.exit("terraform: no test refuses a bad value of: " + ", ".join(missing))
print(f"terraform: {len(validated)} validated variables, each with a test of a bad value")
PY

echo "terraform: test"
# A variable the configuration does not declare is read as an expression: pass a quoted string.
terraform -chdir=infra test -no-color \
  -var "code_contract_file=$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$contract")"
