#!/usr/bin/env bash
# Prints the path of an arm64 sysroot that qemu-user runs the Lambda zips' `bootstrap` in
# (`qemu-aarch64-static -L SYSROOT`): Debian's arm64 libc6 and libgcc-s1, the shared libraries a
# binary of the aarch64-unknown-linux-gnu target links, unpacked under DIR (default
# <target>/lambda/arm64-sysroot). apt downloads and verifies them with its own package lists for
# arm64, kept beside the sysroot, so the machine's apt state and architectures are untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
sysroot=${1:-$target_dir/lambda/arm64-sysroot}
if [ ! -e "$sysroot/.complete" ]; then
  apt_dir="$sysroot.apt"
  rm -rf "$sysroot" "$apt_dir"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs" "$sysroot"
  apt_options=(-qq -o "APT::Architectures::=arm64" -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache=$apt_dir/cache" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
  apt-get "${apt_options[@]}" update >&2
  (cd "$apt_dir/debs" && apt-get "${apt_options[@]}" download libc6:arm64 libgcc-s1:arm64 >&2)
  for deb in "$apt_dir"/debs/*.deb; do dpkg-deb -x "$deb" "$sysroot"; done
  rm -rf "$apt_dir"
  touch "$sysroot/.complete"
fi
realpath "$sysroot"
