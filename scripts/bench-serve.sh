#!/usr/bin/env bash
# Serving benchmarks (docs/benchmarks.md, "Serving"), side by side in one run:
#  1. throughput, p50/p99 latency and server CPU per request of POST /models/{m}/invoke with one
#     CSV row, from wrk on loopback, against: the no-op handler in the same HTTP stack (the
#     ceiling), the test suite's fake model (the server's own overhead), `mmp-container serve`
#     with a 100-tree RandomForest trained on breast-cancer, and MLServer's scikit-learn runtime
#     with scikit-learn's 100-tree RandomForest on the same data (when its venv is there).
#     The targets take turns for ROUNDS rounds; the table gives each one's median.
#  2. cold loads (artifact on disk → first prediction) and resident memory with N models.
#
# Every server runs in its default configuration (mmp: one tokio worker per core; MLServer: its
# HTTP process and one inference worker), unpinned, like wrk: pinning to one core each made every
# target's p99 that of the other work sharing the core (about 10 ms, the no-op included). Servers
# and wrk run at nice NICE (-10) so that other work on a shared machine disturbs them alike, less.
# SERVER_CPUS / CLIENT_CPUS (taskset lists) and WORKERS (MMP_SERVE_WORKERS) pin them if wanted.
#
# Environment: DURATION (5s), ROUNDS (3), CONNECTIONS (8), MODELS (1000), NICE (-10; needs
#   root, else use 0), SERVER_CPUS, CLIENT_CPUS, WORKERS (unset: no pinning, default workers),
#   ARTIFACT  a model folder mmp-container serve can load (unset: `mmp-container train` fits
#             RandomForest, n-estimators=100, on breast-cancer first),
#   ROW       one CSV row for it (default: the first breast-cancer row without its target),
#   MLSERVER_VENV  a venv with MLServer and its scikit-learn runtime (unset: MLServer skipped):
#     python3 -m venv "$MLSERVER_VENV" && "$MLSERVER_VENV/bin/pip" install mlserver==1.7.1 \
#       mlserver-sklearn==1.7.1 "uvloop<0.22" scikit-learn joblib pandas
#     (uvloop 0.22+ breaks MLServer 1.7.1's inference workers: "no current event loop").
# Needs: wrk (Debian package), curl, taskset.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-8}
MODELS=${MODELS:-1000}
SERVER_CPUS=${SERVER_CPUS:-}
CLIENT_CPUS=${CLIENT_CPUS:-}
WORKERS=${WORKERS:-}
NICE=${NICE:--10}
DATASET=datasets/breast-cancer/breast-cancer.csv
ROW=${ROW:-$(sed -n 2p "$DATASET" | cut -d, -f1-30)}
TICKS=$(getconf CLK_TCK)

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --release -q -p mmp-serve --examples
cargo build --release -q -p mmp-container
release=target/release
container=$release/mmp-container
if [ -z "${ARTIFACT:-}" ]; then
  train=$work/train-root
  mkdir -p "$train/input/config" "$train/input/data/train"
  cp "$DATASET" "$train/input/data/train/"
  echo '{"algorithm":"RandomForest","target":"CLASS","cross-validation":"false","n-estimators":"100","random-state":"0"}' \
    >"$train/input/config/hyperparameters.json"
  MMP_ML_ROOT=$train "$container" train >"$work/train.log" 2>&1 || { cat "$work/train.log" >&2; exit 1; }
  ARTIFACT=$train/model
fi

wait_for() { # URL
  for _ in $(seq 1 600); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "no answer from $1" >&2; return 1
}

server_pin=() client_pin=()
[ -z "$SERVER_CPUS" ] || server_pin=(taskset -c "$SERVER_CPUS")
[ -z "$CLIENT_CPUS" ] || client_pin=(taskset -c "$CLIENT_CPUS")

start() { # PORT COMMAND...: a server in the background; its pid in $pids
  local port=$1; shift
  SAGEMAKER_BIND_TO_PORT=$port MMP_SERVE_WORKERS=$WORKERS MMP_ML_ROOT=$work/empty-root \
    nice -n "$NICE" "${server_pin[@]}" "$@" >"$work/server-$port.log" 2>&1 &
  pids+=($!)
  wait_for "http://127.0.0.1:$port/ping"
}

load() { # PORT NAME DIR
  curl -sf -o /dev/null -X POST "http://127.0.0.1:$1/models" -H 'content-type: application/json' \
    -d "{\"model_name\":\"$2\",\"url\":\"$3\"}"
}

cpu_ticks() { # PID: user+system ticks of the process and its children processes
  local total=0 pid
  for pid in "$1" $(pgrep -P "$1" || true); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE")
LUA

targets=() # "name|url|content type|body|pid"
target() { targets+=("$1|$2|$3|$4|$5"); }

measure() { # INDEX: one wrk run; appends "rps p50ms p99ms cpu_us_per_request" to results-INDEX
  local name url type body pid out before after
  IFS='|' read -r name url type body pid <<<"${targets[$1]}"
  out="$work/wrk.txt"
  before=$(cpu_ticks "$pid")
  BENCH_BODY=$body BENCH_CONTENT_TYPE=$type nice -n "$NICE" \
    "${client_pin[@]}" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$work/post.lua" "$url" >"$out"
  after=$(cpu_ticks "$pid")
  if grep -q "Non-2xx" "$out"; then cat "$out" >&2; echo "$name: failed requests" >&2; exit 1; fi
  awk -v cpu=$((after - before)) -v ticks="$TICKS" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
    $2 == "requests" && $3 == "in" { n = $1 }
    $1 == "Requests/sec:" { rps = $2 }
    END { printf "%.0f %.3f %.3f %.1f\n", rps, p50, p99, cpu / ticks * 1e6 / n }' "$out" >>"$work/results-$1"
}

median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

mkdir -p "$work/empty-root" "$work/fake"
printf '{"kind":"classifier","features":[%s],"classes":["0","1"],"memory_bytes":1000}' \
  "$(seq -s, -f '"f%g"' 1 30)" >"$work/fake/fake-model.json"

start 18080 "$release/examples/bench_server" noop
target "no-op handler, same axum stack (ceiling)" http://127.0.0.1:18080/models/m/invoke text/csv "$ROW" "${pids[-1]}"

start 18081 "$release/examples/bench_server" fake
load 18081 m "$work/fake"
target "mmp-serve, fake model (the server's own work)" http://127.0.0.1:18081/models/m/invoke text/csv "$ROW" "${pids[-1]}"

start 18082 "$container" serve
container_pid=${pids[-1]}
load 18082 m "$ARTIFACT"
target "mmp-container serve, RandomForest 100 trees" http://127.0.0.1:18082/models/m/invoke text/csv "$ROW" "$container_pid"
target "mmp-container serve, RandomForest 100 trees, JSON in and out" \
  http://127.0.0.1:18082/models/m/invoke application/json "[[${ROW}]]" "$container_pid"

mlserver_rss=""
if [ -n "${MLSERVER_VENV:-}" ] && [ -x "$MLSERVER_VENV/bin/mlserver" ]; then
  mkdir -p "$work/mlserver/rf"
  "$MLSERVER_VENV/bin/python" - "$DATASET" "$work/mlserver/rf/model.joblib" <<'PY'
import sys
import joblib
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
data = pd.read_csv(sys.argv[1])
x, y = data.iloc[:, :-1].to_numpy(), data.iloc[:, -1].to_numpy()
joblib.dump(RandomForestClassifier(n_estimators=100, random_state=0).fit(x, y), sys.argv[2])
PY
  echo '{"name":"rf","implementation":"mlserver_sklearn.SKLearnModel","parameters":{"uri":"./model.joblib"}}' \
    >"$work/mlserver/rf/model-settings.json"
  echo '{"http_port":18090,"grpc_port":18091,"metrics_port":18092}' >"$work/mlserver/settings.json"
  nice -n "$NICE" "${server_pin[@]}" "$MLSERVER_VENV/bin/mlserver" start "$work/mlserver" >"$work/mlserver.log" 2>&1 &
  pids+=($!)
  wait_for http://127.0.0.1:18090/v2/models/rf/ready || { tail -20 "$work/mlserver.log" >&2; exit 1; }
  version=$("$MLSERVER_VENV/bin/mlserver" --version 2>/dev/null | awk '{print $NF}')
  target "MLServer $version, scikit-learn runtime, RandomForest 100 trees (V2 JSON)" \
    http://127.0.0.1:18090/v2/models/rf/infer application/json \
    "{\"inputs\":[{\"name\":\"predict\",\"shape\":[1,30],\"datatype\":\"FP64\",\"data\":[${ROW}]}]}" "${pids[-1]}"
fi

# Every target answers 200 before anything is timed.
for t in "${targets[@]}"; do
  IFS='|' read -r name url type body _ <<<"$t"
  curl -sf -o /dev/null -X POST "$url" -H "content-type: $type" --data-binary "$body" \
    || { echo "$name does not answer" >&2; exit 1; }
done
for round in $(seq 1 "$ROUNDS"); do
  for i in "${!targets[@]}"; do measure "$i"; done
done
if [ -n "${MLSERVER_VENV:-}" ] && [ -x "$MLSERVER_VENV/bin/mlserver" ]; then
  mlserver_pid=${pids[-1]}
  mlserver_rss=$(( $(ps -o rss= -p "$mlserver_pid") + $(ps -o rss= --ppid "$mlserver_pid" | awk '{s += $1} END {print s + 0}') ))
fi

echo "One-row invocations: wrk -t1 -c$CONNECTIONS, $ROUNDS rounds of $DURATION, medians; $(nproc) cores, server CPUs ${SERVER_CPUS:-any}, wrk CPUs ${CLIENT_CPUS:-any}, workers ${WORKERS:-default}, nice $NICE."
echo
echo "| server | requests/s | p50 ms | p99 ms | server CPU µs/request |"
echo "|---|---|---|---|---|"
for i in "${!targets[@]}"; do
  IFS='|' read -r name _ <<<"${targets[$i]}"
  row="| $name"
  for column in 1 2 3 4; do row="$row | $(cut -d' ' -f"$column" "$work/results-$i" | median)"; done
  echo "$row |"
done
echo
echo "Per round (requests/s): $(for i in "${!targets[@]}"; do printf '[%s] ' "$(cut -d' ' -f1 "$work/results-$i" | xargs)"; done)"
echo "mmp-container serve resident memory, one model: $(( $(ps -o rss= -p "$container_pid") / 1024 )) MiB"
[ -n "$mlserver_rss" ] && echo "MLServer resident memory (main process and workers), one model: $(( mlserver_rss / 1024 )) MiB"

echo
echo "Cold loads and memory, mmp-container serve, $MODELS copies of the RandomForest:"
"$release/examples/load_client" --base "http://127.0.0.1:18082" --artifact "$ARTIFACT" \
  --row "$ROW" --count "$MODELS" --pid "$container_pid"
# The server's own view: time from the load request's arrival to the model being served.
sed 's/\x1b\[[0-9;]*m//g' "$work/server-18082.log" | grep 'model loaded' | grep -o 'elapsed_us=[0-9]*' | cut -d= -f2 | sort -n |
  awk '{v[NR] = $1} END {printf "server-side load (read artifact, build model, publish), %d loads: p50 %.2f ms, p99 %.2f ms\n", NR, v[int(NR * 0.5 + 0.5)] / 1000, v[int(NR * 0.99 + 0.5)] / 1000}'
