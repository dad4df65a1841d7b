#!/usr/bin/env bash
# The SageMaker image, built from image/Dockerfile and run as SageMaker runs it, on one machine with
# podman and no container registry (issue 14, item 1; docs/container.md, "The image, run locally").
#
#   bash scripts/checks/image.sh
#
# 1. A local Debian bookworm base (debootstrap, cached under target/image/base) stands in for the
#    runtime base gcr.io/distroless/cc-debian12, which cannot be pulled here.
# 2. mmp-container is built in release with the real XGBoost and LightGBM (feature native-boosting,
#    target/image), or taken from MMP_CONTAINER_BIN; it and the libraries it loads are laid out as
#    the Dockerfile's build stage lays them out, and `podman build --pull=never` builds the same
#    Dockerfile with BINARY_STAGE=prebuilt and RUNTIME_BASE set to the local base.
# 3. Every library the binary needs resolves inside the image, to the image's own /opt/mmp/lib or to
#    a Debian package that distroless/cc-debian12 also installs.
# 4. The jobs run with SageMaker's conventions: /opt/ml mounted, --network none, the training image
#    run with its own ENTRYPOINT and `train`, processing jobs with the pipeline's
#    ContainerEntrypoint (mmp-container preprocess|evaluate) and ContainerArguments; preprocess
#    on datasets/breast-cancer, a tuning trial and a refit with XGBoost and with LightGBM,
#    evaluate of each; then `serve` on 8080 with SAGEMAKER_MULTI_MODEL=true: /ping, POST /models,
#    invoke, DELETE, and a clean stop.
#
# Needs root, podman, runc and debootstrap (apt-get install podman buildah runc debootstrap), curl,
# python3; for the build, what the native-boosting build needs (scripts/native-boosting-env.sh).
# Exits non-zero naming every check that failed. scripts/test.sh runs it (CI: .ci/apt/image.txt).
#
# Environment: MMP_CONTAINER_BIN (a native-boosting mmp-container to use instead of building one),
# MMP_IMAGE_BUILD_JOBS (cargo -j, default: every core), MMP_DEBIAN_MIRROR (default http://deb.debian.org/debian),
# MMP_IMAGE_CHECK_PORT (host port for serving, default 18080).
set -euo pipefail
cd "$(dirname "$0")/../.."

cache=target/image
check=$cache/check
base_image=localhost/mmp-local-base:bookworm
image=localhost/mmp-container:check
port=${MMP_IMAGE_CHECK_PORT:-18080}
mirror=${MMP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
serve_name=mmp-image-check-serve-$$

failures=()
fail() {
  echo "check-image: FAILED: $*" >&2
  failures+=("$*")
}
die() {
  echo "check-image: $*" >&2
  exit 1
}
say() { echo "check-image: $*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

[ "$(id -u)" = 0 ] || die "run as root (debootstrap and podman's root storage)"
for tool in podman runc debootstrap curl python3 tar readelf; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (apt-get install podman buildah runc debootstrap curl)"
done
mkdir -p "$check"

# crun refuses this kind of VM's hybrid cgroups, and the VM lacks CAP_SYS_RESOURCE, so podman's
# default ulimits cannot be raised: runc, with limits it may set.
cat >"$check/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF=$PWD/$check/containers.conf

cleanup() { podman rm -f "$serve_name" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# --- 1. the local base -------------------------------------------------------------------------
if ! podman image exists "$base_image"; then
  rootfs=$cache/base/rootfs
  if [ ! -x "$rootfs/bin/sh" ]; then
    say "debootstrap --variant=minbase bookworm (once; cached in $cache/base)"
    t=$(now)
    rm -rf "$rootfs" && mkdir -p "$cache/base"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$cache/base/debootstrap.log" 2>&1 ||
      die "debootstrap failed; see $cache/base/debootstrap.log"
    say "debootstrap: $(since "$t") s"
  fi
  # distroless sets these in its image config; an imported tarball has none.
  tar -C "$rootfs" --exclude='./var/cache/apt/archives/*.deb' --exclude='./var/lib/apt/lists/*' -c . |
    podman import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' - "$base_image" >/dev/null
fi

# --- 2. the binary and the image ---------------------------------------------------------------
if [ -n "${MMP_CONTAINER_BIN:-}" ]; then
  bin=$MMP_CONTAINER_BIN
  # shellcheck source=scripts/native-boosting-env.sh
  . scripts/native-boosting-env.sh
else
  say "building mmp-container (release, native-boosting) in $cache"
  t=$(now)
  # shellcheck source=scripts/native-boosting-env.sh
  . scripts/native-boosting-env.sh
  CARGO_TARGET_DIR=$cache cargo build -j "${MMP_IMAGE_BUILD_JOBS:-$(nproc)}" --release --locked \
    -p mmp-container --features native-boosting
  bin=$cache/release/mmp-container
  say "cargo build: $(since "$t") s"
fi
[ -x "$bin" ] || die "no mmp-container at $bin"
# The image's build runs the real libraries: the binary must link libxgboost.
readelf -d "$bin" | grep 'NEEDED.*libxgboost' >/dev/null ||
  die "$bin does not link libxgboost: not a --features native-boosting build"

# The build context, laid out as the Dockerfile's build stage lays out /out (keep the two alike).
ctx=$check/context
rm -rf "$ctx" && mkdir -p "$ctx/bin" "$ctx/lib/xgboost"
install -m 0755 "$bin" "$ctx/bin/mmp-container"
cp -r "$XGBOOST_LIB_DIR" "$ctx/lib/xgboost/lib"
cp -r "$XGBOOST_LIB_DIR/../../xgboost_cpu.libs" "$ctx/lib/xgboost_cpu.libs"
cp "$(gcc -print-file-name=libgomp.so.1)" "$ctx/lib/xgboost/lib/"

say "podman build --pull=never -f image/Dockerfile (BINARY_STAGE=prebuilt, RUNTIME_BASE=$base_image)"
t=$(now)
podman build --pull=never --quiet -f image/Dockerfile \
  --build-arg BINARY_STAGE=prebuilt --build-arg RUNTIME_BASE="$base_image" \
  -t "$image" "$ctx" >"$check/build.log" 2>&1 || { cat "$check/build.log" >&2; die "podman build failed"; }
build_s=$(since "$t")
size=$(podman image inspect --format '{{.Size}}' "$image")
base_size=$(podman image inspect --format '{{.Size}}' "$base_image")
mb() { awk -v b="$1" 'BEGIN { printf "%.0f MB", b / 1e6 }'; }
say "image built in $build_s s: $(mb "$size") ($(mb "$base_size") local base + $(mb $((size - base_size))) of mmp's layers)"

for label in com.amazonaws.sagemaker.capabilities.multi-models com.amazonaws.sagemaker.capabilities.accept-bind-to-port; do
  [ "$(podman image inspect --format "{{index .Labels \"$label\"}}" "$image")" = true ] || fail "label $label is not true"
done
[ "$(podman image inspect --format '{{json .Config.Entrypoint}}' "$image")" = '["mmp-container"]' ] ||
  fail "ENTRYPOINT is not [\"mmp-container\"]"

# --- 3. libraries: the image's own, or those distroless/cc-debian12 installs --------------------
# cc-debian12 = base-debian12 (libc6, libssl3, ...) + libgcc-s1, libstdc++6, libgomp1.
libs=$(podman run --rm --network none --entrypoint /bin/sh "$image" -c '
  for f in /usr/local/bin/mmp-container /opt/mmp/lib/xgboost/lib/*.so* /opt/mmp/lib/xgboost_cpu.libs/*; do
    ldd "$f" | sed "s|^|$f: |"
  done' 2>&1) || fail "ldd inside the image failed: $libs"
if grep -q 'not found' <<<"$libs"; then
  fail "libraries not found inside the image: $(grep 'not found' <<<"$libs" | tr '\n' ';')"
fi
mapfile -t system_libs < <(awk '$3 == "=>" && $4 ~ /^\// && $4 !~ /^\/opt\/mmp\// { print $4 }' <<<"$libs" | sort -u)
owners=$(podman run --rm --network none --entrypoint /bin/sh "$image" -c \
  'for l in "$@"; do dpkg -S "$l" 2>/dev/null || dpkg -S "$(readlink -f "$l")" 2>/dev/null || echo "none: $l"; done' \
  sh "${system_libs[@]}")
bad=$(awk -F': ' '{ split($1, p, ":"); if (p[1] !~ /^(libc6|libgcc-s1|libstdc\+\+6|libgomp1|libssl3)$/) print }' <<<"$owners")
[ -z "$bad" ] || fail "libraries from packages distroless/cc-debian12 lacks: $(tr '\n' ';' <<<"$bad")"
say "libraries: $(awk -F': ' '{ split($1, p, ":"); print p[1] }' <<<"$owners" | sort -u | tr '\n' ' ')from the base, the rest from /opt/mmp/lib"

# --- 4. the jobs --------------------------------------------------------------------------------
ml=$check/ml
rm -rf "$ml" && mkdir -p "$ml"
abs() { echo "$PWD/$1"; }
# A job: podman run with SageMaker's conventions; stdout to ROOT.stdout, stderr to ROOT.stderr.
job() { # ROOT [podman options...] -- ARGS...
  local root=$1
  shift
  local opts=()
  while [ "$1" != -- ]; do
    opts+=("$1")
    shift
  done
  shift
  podman run --rm --network none -v "$(abs "$root"):/opt/ml" "${opts[@]}" "$image" "$@" \
    >"$root.stdout" 2>"$root.stderr"
}
processing() { # ROOT SUBCOMMAND ARGS... (the pipeline's ContainerEntrypoint and ContainerArguments)
  local root=$1 sub=$2
  shift 2
  job "$root" --entrypoint "[\"mmp-container\",\"$sub\"]" -- "$@"
}
json_get() { # FILE PYTHON-EXPRESSION-ON-d
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
hyperparameters() { # ROOT key=value... (JSON-quoted strings, as the SageMaker SDK writes them)
  local root=$1
  shift
  mkdir -p "$root/input/config"
  python3 -c 'import json, sys
print(json.dumps({k: json.dumps(v) for k, v in (a.split("=", 1) for a in sys.argv[2:])}))' _ "$@" \
    >"$root/input/config/hyperparameters.json"
}

# Preprocess.
pre=$ml/preprocess
mkdir -p "$pre/processing/input/data"
cp datasets/breast-cancer/breast-cancer.csv "$pre/processing/input/data/dataset.csv"
t=$(now)
if processing "$pre" preprocess --target CLASS --test-size 0.2 --stratify True --random-state 42 \
  --file-name dataset.csv; then
  say "preprocess: $(since "$t") s"
  train_rows=$(($(wc -l <"$pre/processing/train/dataset.csv") - 1))
  test_rows=$(($(wc -l <"$pre/processing/test/dataset.csv") - 1))
  [ "$train_rows.$test_rows" = 455.114 ] ||
    fail "preprocess split 569 rows into $train_rows + $test_rows, not 455 + 114"
else
  fail "preprocess exited non-zero: $(tail -3 "$pre.stderr")"
fi

declare -A train_s
for family in XGBoost LightGBM; do
  lc=$(tr '[:upper:]' '[:lower:]' <<<"$family")
  # A tuning trial: cross-validation, the metric line the tuning job's MetricDefinitions read.
  trial=$ml/trial-$lc
  mkdir -p "$trial/input/data/train"
  cp "$pre/processing/train/dataset.csv" "$trial/input/data/train/"
  hyperparameters "$trial" algorithm=$family target=CLASS train-file=dataset.csv cross-validation=True \
    cv-scorer=roc_auc cv-folds=5 random-state=42 n-estimators=50
  t=$(now)
  if job "$trial" -- train; then
    say "$family trial: $(since "$t") s, $(grep -E '^mmp-val-score: ' "$trial.stdout" || echo 'no metric line')"
    grep -Eq '^mmp-val-score: (-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)' "$trial.stdout" ||
      fail "$family trial printed no mmp-val-score line"
    [ -f "$trial/model/trial.json" ] || fail "$family trial wrote no model/trial.json"
  else
    fail "$family trial exited non-zero: $(tail -3 "$trial.stderr")"
  fi

  # The refit: the model artifact, fitted by the real library.
  train=$ml/train-$lc
  mkdir -p "$train/input/data/train"
  cp "$pre/processing/train/dataset.csv" "$train/input/data/train/"
  hyperparameters "$train" algorithm=$family target=CLASS train-file=dataset.csv cross-validation=False \
    random-state=42 n-estimators=50
  t=$(now)
  if job "$train" -- train; then
    train_s[$family]=$(since "$t")
    say "$family train (podman run to exit): ${train_s[$family]} s"
    family_in=$(json_get "$train/model/manifest.json" 'd["family"]' 2>/dev/null || echo none)
    [ "$family_in" = "$family" ] || fail "$family train: manifest family is $family_in"
    # SageMaker archives /opt/ml/model as model.tar.gz.
    tar -C "$train/model" -czf "$ml/model-$lc.tar.gz" .
  else
    fail "$family train exited non-zero: $(tail -3 "$train.stderr")"
    continue
  fi

  # Evaluate (a processing job).
  eval=$ml/evaluate-$lc
  mkdir -p "$eval/processing/model" "$eval/processing/test"
  cp "$ml/model-$lc.tar.gz" "$eval/processing/model/model.tar.gz"
  cp "$pre/processing/test/dataset.csv" "$eval/processing/test/"
  t=$(now)
  if processing "$eval" evaluate --target CLASS --file-name dataset.csv --register-metric auc; then
    report=$eval/processing/evaluation/evaluation.json
    auc=$(json_get "$report" 'd["binary_classification_metrics"]["auc"]["value"]' 2>/dev/null || echo none)
    estimator=$(json_get "$report" 'd["estimator"]' 2>/dev/null || echo none)
    say "$family evaluate: $(since "$t") s, auc $auc, estimator $estimator"
    python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 0.95 else 1)' "$auc" 2>/dev/null ||
      fail "$family evaluate: auc $auc is not above 0.95"
    # The pure-Rust booster names itself "(mmp-gbdt)"; the image must fit with the real library.
    case $estimator in
      *mmp-gbdt* | none) fail "$family was not fitted by the real library (estimator: $estimator)" ;;
    esac
  else
    fail "$family evaluate exited non-zero: $(tail -3 "$eval.stderr")"
  fi
done

# Serve: SageMaker's multi-model endpoint unpacks each model.tar.gz under /opt/ml/models and asks
# the container to load that folder.
srv=$ml/serve
for lc in xgboost lightgbm; do
  [ -f "$ml/model-$lc.tar.gz" ] || continue
  mkdir -p "$srv/models/breast-cancer-$lc/model"
  tar -C "$srv/models/breast-cancer-$lc/model" -xzf "$ml/model-$lc.tar.gz"
done
mkdir -p "$srv"
# Test rows without the target column, and their labels.
python3 - "$pre/processing/test/dataset.csv" "$ml/rows.csv" "$ml/labels.txt" <<'EOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
i = rows[0].index("CLASS")
with open(sys.argv[2], "w", newline="") as f:
    csv.writer(f, lineterminator="\n").writerows([c for j, c in enumerate(r) if j != i] for r in rows[1:])
open(sys.argv[3], "w").write("".join(r[i] + "\n" for r in rows[1:]))
EOF
url=http://127.0.0.1:$port
t=$(now)
if podman run -d --name "$serve_name" -p "127.0.0.1:$port:8080" -e SAGEMAKER_MULTI_MODEL=true \
  -v "$(abs "$srv"):/opt/ml" "$image" serve >/dev/null; then
  healthy=
  for _ in $(seq 1 600); do
    if [ "$(curl -s -m 1 "$url/ping" 2>/dev/null)" = '{"status":"Healthy"}' ]; then
      healthy=$(since "$t")
      break
    fi
    sleep 0.05
  done
  if [ -n "$healthy" ]; then
    say "serve: podman run to a healthy /ping: $healthy s"
  else
    fail "serve: /ping not healthy within 30 s: $(podman logs "$serve_name" 2>&1 | tail -3)"
  fi
  status() { curl -s -o "$ml/response" -w '%{http_code}' -m 30 "$@"; }
  for lc in xgboost lightgbm; do
    name=breast-cancer-$lc
    [ -d "$srv/models/$name" ] || continue
    code=$(status -X POST "$url/models" -H 'Content-Type: application/json' \
      -d "{\"model_name\": \"$name\", \"url\": \"/opt/ml/models/$name/model\"}")
    [ "$code" = 200 ] || fail "serve: POST /models $name: $code $(cat "$ml/response")"
    code=$(status -X POST "$url/models/$name/invoke" -H 'Content-Type: text/csv' -H 'Accept: text/csv' \
      --data-binary "@$ml/rows.csv")
    if [ "$code" = 200 ]; then
      accuracy=$(paste -d, "$ml/response" "$ml/labels.txt" | awk -F, '{ n++; if ($1 == $2) k++ } END { printf "%.3f", k / n }')
      [ "$(wc -l <"$ml/response")" = "$(wc -l <"$ml/labels.txt")" ] ||
        fail "serve: $name answered $(wc -l <"$ml/response") predictions for $(wc -l <"$ml/labels.txt") rows"
      say "serve: $name invoked on $(wc -l <"$ml/labels.txt") test rows, accuracy $accuracy"
      awk -v a="$accuracy" 'BEGIN { exit !(a > 0.9) }' || fail "serve: $name accuracy $accuracy is not above 0.9"
    else
      fail "serve: invoke $name: $code $(cat "$ml/response")"
    fi
    code=$(status -X POST "$url/models/$name/invoke" -H 'Content-Type: text/csv' -H 'Accept: application/json' \
      --data-binary "$(head -1 "$ml/rows.csv")")
    { [ "$code" = 200 ] && grep -q '"probabilities"' "$ml/response"; } ||
      fail "serve: JSON invoke $name: $code $(cat "$ml/response")"
    code=$(status -X DELETE "$url/models/$name")
    [ "$code" = 200 ] || fail "serve: DELETE /models/$name: $code $(cat "$ml/response")"
    code=$(status -X POST "$url/models/$name/invoke" -H 'Content-Type: text/csv' --data-binary "$(head -1 "$ml/rows.csv")")
    [ "$code" = 404 ] || fail "serve: $name still answers after DELETE ($code)"
  done
  podman stop -t 10 "$serve_name" >/dev/null
  exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$serve_name")
  [ "$exit_code" = 0 ] || fail "serve: exited $exit_code on SIGTERM"
  podman logs "$serve_name" >"$srv.log" 2>&1 || true
else
  fail "serve: podman run failed"
fi

echo
say "image $(mb "$size"); podman run to healthy /ping ${healthy:-?} s; train on breast-cancer (XGBoost, LightGBM): ${train_s[XGBoost]:-?} s, ${train_s[LightGBM]:-?} s"
if [ ${#failures[@]} -gt 0 ]; then
  say "${#failures[@]} check(s) failed:"
  printf '  - %s\n' "${failures[@]}" >&2
  exit 1
fi
say "all checks passed"
