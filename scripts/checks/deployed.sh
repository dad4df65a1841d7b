#!/usr/bin/env bash
# The deployed system on an AWS emulator: infra/ applied by Terraform to moto's server, read back
# through moto's APIs, and driven end to end by the Lambda functions as they ship
# (infra/tests/emulator/test_deployed.py): upload -> trigger, approval -> deployer,
# Function URL -> invoker, execution end -> reporter.
#
# The functions are the arm64 zips scripts/build-functions.sh makes, exactly what Terraform
# deploys, each `bootstrap` started under qemu-user on an arm64 sysroot (scripts/arm64-sysroot.sh).
# Their cold starts under emulation go to <target>/lambda/cold-starts-arm64.json.
# MMP_DEPLOYED_NATIVE=1 runs the host's debug binaries instead (a quicker loop while developing:
# no release build, no emulation). MMP_BIN_DIR names the folder of the all-features debug build
# with mmp-infra-check's tools (scripts/test.sh sets it).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/terraform-offline-env.sh
need() {
  command -v "$1" >/dev/null || { echo "deployed: $1 is not installed ($2)" >&2; exit 1; }
}
need terraform "see docs/deploy-aws.md"
need moto_server ".ci/pip/moto.txt"
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin_dir=${MMP_BIN_DIR:-$target_dir/debug}
if [ "${MMP_DEPLOYED_NATIVE:-0}" = 1 ]; then
  exec python3 infra/tests/emulator/test_deployed.py --bin-dir "$bin_dir"
fi
need qemu-aarch64-static ".ci/apt/lambda-arm64.txt"
need cargo-lambda ".ci/pip/functions.txt"
started=$(date +%s)
bash scripts/build-functions.sh
built=$(date +%s)
sysroot=$(bash scripts/arm64-sysroot.sh)
python3 infra/tests/emulator/test_deployed.py --bin-dir "$bin_dir" \
  --zip-dir "$target_dir/lambda" --launcher "qemu-aarch64-static -L $sysroot" \
  --cold-starts "$target_dir/lambda/cold-starts-arm64.json"
echo "deployed: arm64 zips built in $((built - started)) s; deployed and driven under qemu in $(($(date +%s) - built)) s"
