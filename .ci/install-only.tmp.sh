#!/usr/bin/env bash
# CI entry point: install what a fresh machine lacks, then run the README's test command.
# Package lists live in .ci/pip/*.txt and .ci/apt/*.txt, one file per concern.
set -euo pipefail
cd "$(dirname "$0")/.."

shopt -s nullglob
apt_lists=(.ci/apt/*.txt)
pip_lists=(.ci/pip/*.txt)

apt_packages=""
if [ ${#apt_lists[@]} -gt 0 ]; then
  apt_packages=$(sed 's/#.*//' "${apt_lists[@]}" | xargs -r echo)
fi
if [ -n "$apt_packages" ]; then
  missing=""
  for p in $apt_packages; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
  fi
fi

if [ ${#pip_lists[@]} -gt 0 ]; then
  # One resolver run over every list, so that their pins are resolved together.
  requirements=()
  for f in "${pip_lists[@]}"; do requirements+=(-r "$f"); done
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore "${requirements[@]}"
  # pyenv only exposes newly installed console scripts (moto_server, checkov) after a rehash.
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
fi

rustup component add rustfmt clippy >/dev/null 2>&1 || true

