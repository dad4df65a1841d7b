#!/usr/bin/env bash
# Serving benchmarks (docs/benchmarks.md, "Serving"), side by side in one run:
#  1. throughput and p50/p99 of POST /models/{m}/invoke with one CSV row, from wrk on loopback:
#     the no-op handler in the same HTTP stack (the ceiling), mmp-serve with the real model
#     (mmp-container serve) or, without one, the test suite's fake model, and MLServer's
#     scikit-learn runtime with the same model family (when its venv is there);
#  2. cold loads (artifact on disk → first prediction) and resident memory with N models.
#
# Server processes are pinned to SERVER_CPUS and wrk to CLIENT_CPUS, with one tokio worker,
# so on a 2-core machine the server and the load generator each get one core.
#
# Environment: DURATION (10s), CONNECTIONS (8), MODELS (1000), SERVER_CPUS (0), CLIENT_CPUS (1),
#   ARTIFACT  a model folder mmp-container serve can load (unset: the fake model only),
#   ROW       one CSV row for it (default: the first breast-cancer row without its target),
#   MLSERVER_VENV  a venv with mlserver + mlserver-sklearn (unset or absent: MLServer skipped).
# Needs: wrk (Debian package), curl, python3 for MLServer's model.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-8}
MODELS=${MODELS:-1000}
SERVER_CPUS=${SERVER_CPUS:-0}
CLIENT_CPUS=${CLIENT_CPUS:-1}
DATASET=datasets/breast-cancer/breast-cancer.csv
ROW=${ROW:-$(sed -n 2p "$DATASET" | cut -d, -f1-30)}

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --release -q -p mmp-serve --examples
release=target/release
container=""
if [ -n "${ARTIFACT:-}" ]; then
  cargo build --release -q -p mmp-container
  container=$release/mmp-container
fi

wait_for() { # URL
  for _ in $(seq 1 200); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "no answer from $1" >&2; return 1
}

start() { # PORT COMMAND...: starts a server pinned to SERVER_CPUS, one worker
  local port=$1; shift
  SAGEMAKER_BIND_TO_PORT=$port MMP_SERVE_WORKERS=1 MMP_ML_ROOT=$work/empty-root RUST_LOG=warn \
    taskset -c "$SERVER_CPUS" "$@" >"$work/server-$port.log" 2>&1 &
  pids+=($!)
  wait_for "http://127.0.0.1:$port/ping"
}

load() { # PORT NAME DIR
  curl -sf -o /dev/null -X POST "http://127.0.0.1:$1/models" -H 'content-type: application/json' \
    -d "{\"model_name\":\"$2\",\"url\":\"$3\"}"
}

# wrk posting $BENCH_BODY; prints one table row: name | requests/s | p50 ms | p99 ms
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE")
LUA
measure() { # NAME URL CONTENT_TYPE BODY
  local out="$work/wrk-$RANDOM.txt"
  # Check the request is answered 200 before measuring it.
  curl -sf -o /dev/null -X POST "$2" -H "content-type: $3" --data-binary "$4"
  BENCH_BODY=$4 BENCH_CONTENT_TYPE=$3 taskset -c "$CLIENT_CPUS" \
    wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$work/post.lua" "$2" >"$out"
  if grep -q "Non-2xx" "$out"; then cat "$out" >&2; echo "$1: failed requests" >&2; return 1; fi
  awk -v name="$1" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
    $1 == "Requests/sec:" { rps = $2 }
    END { printf "| %s | %.0f | %.3f | %.3f |\n", name, rps, p50, p99 }' "$out"
}

mkdir -p "$work/empty-root" "$work/fake"
printf '{"kind":"classifier","features":[%s],"classes":["0","1"],"memory_bytes":1000}' \
  "$(seq -s, -f '"f%g"' 1 30)" >"$work/fake/fake-model.json"

echo "| server (one-row CSV unless noted) | requests/s | p50 ms | p99 ms |"
echo "|---|---|---|---|"
start 18080 "$release/examples/bench_server" noop
measure "no-op handler, same axum stack (ceiling)" "http://127.0.0.1:18080/models/m/invoke" text/csv "$ROW"

start 18081 "$release/examples/bench_server" fake
load 18081 m "$work/fake"
measure "mmp-serve, fake model (server overhead only)" "http://127.0.0.1:18081/models/m/invoke" text/csv "$ROW"

if [ -n "$container" ]; then
  start 18082 "$container" serve
  load 18082 m "$ARTIFACT"
  measure "mmp-container serve, $(basename "$ARTIFACT")" "http://127.0.0.1:18082/models/m/invoke" text/csv "$ROW"
  measure "mmp-container serve, same row as JSON, Accept JSON" \
    "http://127.0.0.1:18082/models/m/invoke" application/json "[[${ROW}]]"
fi

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
  SERVER_LOG="$work/mlserver.log"
  taskset -c "$SERVER_CPUS" "$MLSERVER_VENV/bin/mlserver" start "$work/mlserver" >"$SERVER_LOG" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 600); do curl -sf -o /dev/null http://127.0.0.1:18090/v2/models/rf/ready && break; sleep 0.1; done
  v2="{\"inputs\":[{\"name\":\"predict\",\"shape\":[1,30],\"datatype\":\"FP64\",\"data\":[${ROW}]}]}"
  measure "MLServer $("$MLSERVER_VENV/bin/mlserver" --version 2>/dev/null | awk '{print $NF}') sklearn runtime, RandomForest 100 trees (V2 JSON)" \
    "http://127.0.0.1:18090/v2/models/rf/infer" application/json "$v2"
  mlserver_rss=$(ps -o rss= --ppid "${pids[-1]}" | awk -v own="$(ps -o rss= -p "${pids[-1]}")" '{s+=$1} END {printf "%.0f", (s+own)/1024}')
  echo
  echo "MLServer resident memory (main + workers), one model: ${mlserver_rss} MiB"
fi

echo
if [ -n "$container" ]; then
  server_pid=${pids[2]}
  port=18082
  artifact=$ARTIFACT
  row=$ROW
else
  server_pid=${pids[1]}
  port=18081
  artifact=$work/fake
  row=$ROW
fi
echo "Cold loads and memory, $MODELS models, on port $port ($( [ -n "$container" ] && echo "real model" || echo "fake model")):"
"$release/examples/load_client" --base "http://127.0.0.1:$port" --artifact "$artifact" \
  --row "$row" --count "$MODELS" --pid "$server_pid"
