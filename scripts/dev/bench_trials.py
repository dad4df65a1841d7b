#!/usr/bin/env python3
"""Dev-only benchmark: one tuning trial as a whole process, `mmp-container train` against the
original's way (scripts/dev/original_trial.py), side by side in one run on the same machine.
Reports mean and min wall time and peak resident memory of each, and their ratios.

Usage (from the repository root, after `cargo build --release -p mmp-container` and
`pip install scikit-learn==1.5.2 pandas`):
    python3 scripts/dev/bench_trials.py [--runs 5] [--python python3]
"""
import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.path.join(ROOT, "target", "release", "mmp-container")
TRIALS = [
    ("LogisticRegression", {}),
    ("NaiveBayes", {}),
    ("RandomForest", {"n-estimators": "100"}),
    ("RandomForest", {"n-estimators": "500", "max-depth": "20"}),
]


def run(cmd, env):
    """Wall seconds and peak RSS (MiB) of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out = proc.stdout.read().decode()
    proc.stdout.close()
    assert status == 0, f"{cmd} failed"
    assert "Cross-Validation Score" in out, out
    return wall, usage.ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--python", default="python3")
    args = ap.parse_args()
    root = tempfile.mkdtemp()
    os.makedirs(os.path.join(root, "input/config"))
    os.makedirs(os.path.join(root, "input/data/train"))
    shutil.copy(os.path.join(ROOT, "datasets/breast-cancer/breast-cancer.csv"),
                os.path.join(root, "input/data/train/dataset.csv"))
    env = dict(os.environ, MMP_ML_ROOT=root, RUST_LOG="warn")
    print(f"| trial (breast-cancer, 5-fold CV) | mmp-container | original (Python) | speed-up | memory ratio |")
    print(f"|---|---|---|---|---|")
    for algorithm, extra in TRIALS:
        hp = {"algorithm": algorithm, "target": "CLASS", "cross-validation": "true",
              "cv-scorer": "roc_auc", "random-state": "42", **extra}
        with open(os.path.join(root, "input/config/hyperparameters.json"), "w") as f:
            json.dump({k: json.dumps(v) for k, v in hp.items()}, f)
        results = {}
        for name, cmd in [("rust", [BINARY, "train"]),
                          ("python", [args.python, os.path.join(ROOT, "scripts/dev/original_trial.py")])]:
            runs = [run(cmd, env) for _ in range(args.runs)]
            results[name] = (sum(w for w, _ in runs) / len(runs), min(w for w, _ in runs),
                             max(m for _, m in runs))
        r, p = results["rust"], results["python"]
        label = algorithm + (" " + " ".join(f"{k}={v}" for k, v in extra.items()) if extra else "")
        print(f"| {label} | {r[0]:.3f} s (min {r[1]:.3f}), {r[2]:.0f} MiB "
              f"| {p[0]:.3f} s (min {p[1]:.3f}), {p[2]:.0f} MiB "
              f"| {p[0] / r[0]:.1f}× | {p[2] / r[2]:.0f}× less |")
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
