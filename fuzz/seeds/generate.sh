#!/usr/bin/env bash
# Regenerates fuzz/corpus/, the seed corpus scripts/checks/fuzz.sh starts every target from:
# model seeds written by this project's own code (the Rust generator beside this script, the
# Python libraries through library_files.py), payloads, settings and patterns made here or
# taken from events/ and datasets/. Nothing is fetched. Run from anywhere; needs python3 with
# xgboost and lightgbm (.ci/pip/native.txt).
set -euo pipefail
cd "$(dirname "$0")/../.."
corpus=fuzz/corpus
rm -rf "$corpus"
mkdir -p "$corpus"/{payload,model_readers,model_archive,event_pattern,dataset_settings}

cargo run --quiet --manifest-path fuzz/Cargo.toml -p mmp-fuzz-seeds --target-dir target/fuzz -- "$corpus"
python3 fuzz/seeds/library_files.py "$corpus"

# payload: selector byte (0 CSV, 1 JSON), then the body.
seed() { local dir=$1 name=$2 selector=$3 body=$4; { printf "\\x$selector"; printf '%s' "$body"; } >"$corpus/$dir/$name"; }
seed payload csv-rows 00 $'1.5,2,abc\n-3e2, ,"x,y"\r\n\n'
seed payload csv-quoted 00 $'"a ""b""",nan,\n7,NaN,1e3\n'
seed payload csv-bom 00 $'\xEF\xBB\xBF0.1,0.2,0.3'
seed payload json-arrays 01 '[[1, null, "b"], [2.5, "7", true]]'
seed payload json-records 01 '[{"x1": 1, "colour": "red"}, {"colour": "blue"}]'
seed payload json-envelope 01 '{"instances": [[1, 2], [3, 4]]}'
seed payload json-flat 01 '[1, "2", false, null]'
seed payload json-out-of-range 01 '[[1e400, 2]]'

# dataset_settings: the file as it is.
cp datasets/diabetes/pipeline.json "$corpus/dataset_settings/diabetes"
printf '%s' '{}' >"$corpus/dataset_settings/empty"
printf '%s' '{"target_column": "label", "scorer": "accuracy", "registration_metric": "accuracy", "registration_threshold": 0.75, "approval_status": "PendingManualApproval", "max_tuning_jobs": 4, "max_parallel_tuning_jobs": 2, "stratify_split": true, "test_set_size": 0.2, "random_state": 42}' >"$corpus/dataset_settings/full"
printf '%s' '{"max_tuning_jobs": 2, "max_parallel_tuning_jobs": 3}' >"$corpus/dataset_settings/parallel-over-total"

# event_pattern: a rule of events/patterns/ (pipeline name filled in), NUL, a sample event.
pair() {
  local name=$1 pattern=$2 sample=$3
  { sed 's/\${pipeline_name}/mmp/g' "events/patterns/$pattern.json"; printf '\0'; cat "events/samples/$sample.json"; } >"$corpus/event_pattern/$name"
}
pair upload-matches dataset-object-created s3-dataset-upload
pair execution-matches pipeline-execution-status-change pipeline-execution-succeeded
pair execution-other pipeline-execution-status-change pipeline-execution-executing
pair approved-matches model-package-state-change model-package-approved
pair pending-does-not model-package-state-change model-package-pending
{ printf '%s' '{"detail": {"n": [{"exists": true}], "tags": [{"anything-but": ["a", 1, null]}], "k": [{"suffix": ".csv"}, {"anything-but": {"prefix": "x"}}]}}'; printf '\0'; printf '%s' '{"detail": {"n": 0, "tags": ["b", 2], "k": "data.csv"}}'; } >"$corpus/event_pattern/operators"

du -sh "$corpus"/*
