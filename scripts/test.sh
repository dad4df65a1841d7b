#!/usr/bin/env bash
# Every test of the project: formatting, lints, the Rust test suites (moto-backed ones included)
# and the offline checks each concern adds under scripts/checks/.
set -euo pipefail
cd "$(dirname "$0")/.."
# --all-features builds the real XGBoost and LightGBM too; this finds their native parts.
source scripts/native-boosting-env.sh

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
cargo test --workspace --all-features --locked --no-fail-fast
# The default build (XGBoost and LightGBM on the pure-Rust booster, what `mmp demo` runs), too.
cargo clippy -p mmp-ml -p mmp-container --all-targets --locked -- -D warnings
cargo test -p mmp-ml -p mmp-container --locked --no-fail-fast

for check in scripts/checks/*.sh; do
  [ -e "$check" ] || continue
  echo "== $check"
  bash "$check"
done
echo "console screenshots: $(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/console-screenshots/"
echo "all tests passed"
