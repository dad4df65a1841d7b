#!/usr/bin/env bash
# Fuzzes the parsers of untrusted bytes (fuzz/, cargo-fuzz and libFuzzer; docs/fuzzing.md):
# builds every target once, then runs each for FUZZ_SECONDS (45 by default; two targets at a
# time, one per core) from its committed seed corpus, copied to a temporary folder so that
# nothing is written into the checkout. A crash, a panic, a timeout or an out-of-memory fails
# the check and prints the input.
#
# CI has only the stable toolchain; cargo-fuzz passes nightly-only flags (-Z, sanitizer
# coverage), which stable accepts under RUSTC_BOOTSTRAP=1.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${FUZZ_SECONDS:-45}
export RUSTC_BOOTSTRAP=1
# The code is safe Rust, so AddressSanitizer finds nothing a panic would not and only slows
# every run; release with debug assertions (and overflow checks) is cargo-fuzz's default. The
# build goes under the checkout's target/ (ignored), not fuzz/target.
build=(--sanitizer none --release --debug-assertions --codegen-units 16 --target-dir target/fuzz)
bin_dir=target/fuzz/x86_64-unknown-linux-gnu/release

# target and its -max_len: a little over the largest seed, so mutations can grow inputs.
targets=(payload:4096 model_readers:16384 model_archive:16384 event_pattern:4096 dataset_settings:1024)

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz: cargo-fuzz is not installed (cargo install cargo-fuzz --locked)" >&2
  exit 1
fi
if ! cargo metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null 2>&1; then
  # A crate the targets use gained a dependency; cargo adds it to fuzz/Cargo.lock as it builds.
  echo "fuzz: warning: fuzz/Cargo.lock is out of date (cargo update -w --manifest-path fuzz/Cargo.toml)" >&2
fi

start=$(date +%s)
echo "fuzz: building ${#targets[@]} targets"
cargo fuzz build "${build[@]}"
echo "fuzz: built in $(($(date +%s) - start)) s"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Runs one target; its exit status is libFuzzer's (non-zero on a crash, timeout or OOM).
run() {
  local target=$1 max_len=$2
  mkdir -p "$work/$target/corpus" "$work/$target/artifacts"
  cp -R "fuzz/corpus/$target/." "$work/$target/corpus/"
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb also caps any single malloc.
  "$bin_dir/$target" "$work/$target/corpus" \
    -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$work/$target/artifacts/" -print_final_stats=1 \
    >"$work/$target/log" 2>&1
}

report() {
  local target=$1 status=$2
  if [ "$status" -eq 0 ]; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$target/log")
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$work/$target/log")
    echo "fuzz: $target ok: ${runs:-?} inputs run, peak ${rss:-?} MB, corpus grew to $(find "$work/$target/corpus" -type f | wc -l)"
    return
  fi
  failed=1
  echo "fuzz: $target FAILED (exit $status); the end of its log:"
  tail -n 60 "$work/$target/log"
  for input in "$work/$target/artifacts"/*; do
    [ -e "$input" ] || continue
    echo "fuzz: $target failed on this input ($(wc -c <"$input") bytes, base64):"
    base64 -w 0 "$input"
    echo
    echo "fuzz: reproduce: save it as fuzz/regressions/$target/<name> (base64 -d), then"
    echo "  RUSTC_BOOTSTRAP=1 cargo fuzz run ${build[*]} $target fuzz/regressions/$target/<name>"
  done
}

# Two targets at a time, one per core: each still gets its full time.
failed=0
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  batch=("${targets[@]:i:2}")
  pids=()
  for entry in "${batch[@]}"; do
    echo "fuzz: ${entry%%:*} for ${seconds} s from $(find "fuzz/corpus/${entry%%:*}" -type f | wc -l) seeds"
    run "${entry%%:*}" "${entry##*:}" &
    pids+=($!)
  done
  for j in "${!batch[@]}"; do
    status=0
    wait "${pids[$j]}" || status=$?
    report "${batch[$j]%%:*}" "$status"
  done
done
echo "fuzz: done in $(($(date +%s) - start)) s"
exit "$failed"
