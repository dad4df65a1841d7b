#!/usr/bin/env bash
# Every test of the project: formatting, lints, the Rust test suites (moto-backed ones included)
# and the checks each concern adds under scripts/checks/ (Terraform validated and tested with
# the real provider, then applied to an AWS emulator and driven end to end).
# Needs what .ci/run installs; run `bash .ci/run` on a fresh machine, which installs it first.
set -euo pipefail
cd "$(dirname "$0")/.."
# --all-features builds the real XGBoost and LightGBM too; this finds their native parts.
source scripts/native-boosting-env.sh
# Terraform's AWS provider from a local mirror when no registry is reachable.
source scripts/terraform-offline-env.sh

step() { echo "== $* ($(date -u +%H:%M:%S))"; }

step fmt
cargo fmt --all -- --check
step clippy, all features
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
# One test binary at a time (each runs its tests in parallel): the browser and whole-pipeline
# tests wait on real processes, and running them beside the others on 2 cores (nextest) made
# their waits time out.
step tests, all features
cargo test --workspace --all-features --locked --no-fail-fast
# The default build (XGBoost and LightGBM on the pure-Rust booster, what `mmp demo` runs), too.
step clippy and tests, default build of mmp-ml and mmp-container
cargo clippy -p mmp-ml -p mmp-container --all-targets --locked -- -D warnings
cargo test -p mmp-ml -p mmp-container --locked --no-fail-fast

# The checks use the function binaries the all-features test build made (with their AWS
# adapters), and mmp-infra-check's two tools. (A `cargo build --bins` of the workspace would
# build everything again: without the dev-dependencies, features unify differently.)
step binaries for the checks
cargo build --locked -p mmp-infra-check --bins
MMP_BIN_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug"
export MMP_BIN_DIR
for check in scripts/checks/*.sh; do
  [ -e "$check" ] || continue
  step "$check"
  bash "$check"
done
echo "console screenshots: $MMP_BIN_DIR/../console-screenshots/"
echo "all tests passed ($(date -u +%H:%M:%S))"
