#!/usr/bin/env bash
# Builds the four Lambda functions as deployable arm64 zips:
#   <target>/lambda/<function>/bootstrap.zip  (<target>: cargo's target folder)
# Needs cargo-lambda and zig (both from PyPI: `pip install cargo-lambda ziglang`) and the
# aarch64 target (`rustup target add aarch64-unknown-linux-gnu`).
set -euo pipefail
cd "$(dirname "$0")/.."

FUNCTIONS=(pipeline-trigger model-deployer endpoint-invoker metrics-reporter)

if ! command -v cargo-lambda >/dev/null 2>&1; then
  echo "cargo-lambda not found: pip install cargo-lambda ziglang" >&2
  exit 1
fi
rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$' \
  || rustup target add aarch64-unknown-linux-gnu

packages=()
for function in "${FUNCTIONS[@]}"; do
  packages+=(--package "$function")
done

cargo lambda build --release --arm64 --output-format zip --features aws "${packages[@]}"

target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
for function in "${FUNCTIONS[@]}"; do
  zip="$target_dir/lambda/$function/bootstrap.zip"
  [ -f "$zip" ] || { echo "missing $zip" >&2; exit 1; }
  echo "$zip $(du -h "$zip" | cut -f1)"
done
