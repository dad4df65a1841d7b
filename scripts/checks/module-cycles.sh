#!/usr/bin/env bash
# Every crate's top-level modules form a DAG: no module cycles (scripts/checks/module_graph.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 scripts/checks/module_graph.py
