#!/usr/bin/env bash
# The deployed system on an AWS emulator: infra/ applied by Terraform to moto's server, read back
# through moto's APIs, and driven end to end by the real Lambda binaries
# (infra/tests/emulator/test_deployed.py). MMP_BIN_DIR names the folder of the all-features
# debug build (scripts/test.sh sets it).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/terraform-offline-env.sh
command -v terraform >/dev/null || { echo "deployed: terraform is not installed" >&2; exit 1; }
command -v moto_server >/dev/null || { echo "deployed: moto_server is not installed (.ci/pip/moto.txt)" >&2; exit 1; }
bin_dir=${MMP_BIN_DIR:-target/debug}
python3 infra/tests/emulator/test_deployed.py --bin-dir "$bin_dir"
