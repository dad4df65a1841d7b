#!/usr/bin/env bash
# The serving image keeps what SageMaker's multi-model contract needs from it (no Docker
# engine is needed to check this): both capability labels, the default port, and
# `mmp-container serve` as what the image runs by default.
set -euo pipefail
cd "$(dirname "$0")/../.."
dockerfile=image/Dockerfile
fail=0
require() { # PATTERN WHY
  if ! grep -Eq "$1" "$dockerfile"; then echo "$dockerfile: $2 (no line matching $1)" >&2; fail=1; fi
}
require 'com\.amazonaws\.sagemaker\.capabilities\.multi-models=true' "multi-model capability label missing"
require 'com\.amazonaws\.sagemaker\.capabilities\.accept-bind-to-port=true' "bind-to-port capability label missing"
require '^EXPOSE 8080$' "SageMaker's default port is not exposed"
require '^ENTRYPOINT \["mmp-container"\]$' "the entry point is not mmp-container"
require '^CMD \["serve"\]$' "the default command is not serve"
require 'cargo build --release --locked -p mmp-container --features native-boosting' "the image does not build mmp-container in release with the real XGBoost and LightGBM"
[ "$fail" = 0 ] && echo "serving image: labels, port, entry point and command present"
exit "$fail"
