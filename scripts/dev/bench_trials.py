#!/usr/bin/env python3
"""Dev-only benchmark: one tuning trial as a whole process, `mmp-container train` against the
original's way (scripts/dev/original_trial.py), side by side in one run on the same machine.
Reports mean and min wall time and peak resident memory of each, and their ratios.

With `--synthetic N`, the data is N generated rows (20 numeric features, a binary target
from a noisy non-linear rule, fixed seed): the compute-bound case, where import time no
longer dominates.

Usage (from the repository root, after `cargo build --release -p mmp-container` and
`pip install scikit-learn==1.5.2 xgboost lightgbm pandas`):
    python3 scripts/dev/bench_trials.py [--runs 5] [--python python3] [--synthetic 100000]
        [--classes 500 [--integer-labels]] [--only XGBoost,LightGBM] [--binary [LABEL=]PATH ...] [--cpus 0]
Several --binary compare builds side by side in one run (runs interleaved); --cpus pins every
process, ours and Python's, to those CPUs (one CPU: the per-core comparison).
The image's build (real XGBoost and LightGBM) is `--features native-boosting`; run it with
`source scripts/native-boosting-env.sh` first, so that it finds libxgboost.
"""
import argparse
import json
import os
import random
import re
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
    ("NeuralNet", {}),
    ("XGBoost", {}),
    ("LightGBM", {}),
]
SYNTHETIC_TRIALS = [
    ("LogisticRegression", {}),
    ("NaiveBayes", {}),
    ("RandomForest", {"n-estimators": "100"}),
    ("NeuralNet", {}),
    ("XGBoost", {}),
    ("LightGBM", {}),
]
SCORE = re.compile(r"Cross-Validation Score: ([0-9.]+)")


def synthetic_csv(path, rows, classes=2, integer_labels=False):
    """20 numeric features on different scales; CLASS from a noisy non-linear rule. With more
    than 2 classes, CLASS is one of `classes` labels drawn alike (`c0`, `c1`, ..., or 0, 1, ...
    with `integer_labels`: the original's XGBoost script refuses labels that are not 0 to K-1),
    and each feature is noise around a centre that grows with the class: classes overlap, so
    trees grow deep."""
    rng = random.Random(7)
    with open(path, "w") as f:
        f.write(",".join(f"x{i}" for i in range(20)) + ",CLASS\n")
        for _ in range(rows if classes > 2 else 0):
            c = rng.randrange(classes)
            x = [rng.gauss(c / 100, 1) * (1 + i) for i in range(20)]
            f.write(",".join(f"{v:.6g}" for v in x) + f",{'' if integer_labels else 'c'}{c}\n")
        for _ in range(rows if classes <= 2 else 0):
            x = [rng.gauss(0, 1) * (1 + i) for i in range(20)]
            z = x[0] - 0.5 * x[1] + 0.3 * x[2] * x[3] / 12 + (x[4] > 2) - 0.2 * x[5] ** 2 / 36
            y = int(z + rng.gauss(0, 1) > 0)
            f.write(",".join(f"{v:.6g}" for v in x) + f",{y}\n")


def run(cmd, env):
    """Wall seconds and peak RSS (MiB) of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out = proc.stdout.read().decode()
    proc.stdout.close()
    assert status == 0, f"{cmd} failed"
    score = float(SCORE.search(out).group(1))
    return wall, usage.ru_maxrss / 1024, score


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--python", default="python3")
    ap.add_argument("--synthetic", type=int, default=0, help="rows of generated data instead of breast cancer")
    ap.add_argument("--only", default="", help="comma-separated families to run")
    ap.add_argument("--binary", action="append", default=[],
                    help="an mmp-container to time, as PATH or LABEL=PATH; repeat to compare builds "
                         "side by side in one run (default: target/release/mmp-container)")
    ap.add_argument("--classes", type=int, default=2,
                    help="with --synthetic: this many target classes (more than 2: scored by accuracy)")
    ap.add_argument("--integer-labels", action="store_true",
                    help="with --classes: labels 0 to K-1 (the original's XGBoost takes no other)")
    ap.add_argument("--cpus", default="", help="pin every process to these CPUs (taskset -c), e.g. 0 for one core")
    args = ap.parse_args()
    binaries = [b.split("=", 1) if "=" in b else [os.path.basename(b), b] for b in args.binary or [BINARY]]
    pin = ["taskset", "-c", args.cpus] if args.cpus else []
    root = tempfile.mkdtemp()
    os.makedirs(os.path.join(root, "input/config"))
    os.makedirs(os.path.join(root, "input/data/train"))
    train = os.path.join(root, "input/data/train/dataset.csv")
    if args.synthetic:
        synthetic_csv(train, args.synthetic, args.classes, args.integer_labels)
        trials, data = SYNTHETIC_TRIALS, f"{args.synthetic:,} synthetic rows"
        if args.classes > 2:
            data += f", {args.classes} classes"
    else:
        shutil.copy(os.path.join(ROOT, "datasets/breast-cancer/breast-cancer.csv"), train)
        trials, data = TRIALS, "breast-cancer"
    if args.only:
        trials = [t for t in trials if t[0] in args.only.split(",")]
    env = dict(os.environ, MMP_ML_ROOT=root, RUST_LOG="warn")
    where = f", pinned to CPUs {args.cpus}" if args.cpus else ""
    labels = [label for label, _ in binaries]
    print(f"| trial ({data}, 5-fold CV{where}) | " + " | ".join(labels) + " | original (Python) | "
          + " | ".join(f"speed-up, {label}" for label in labels) + " | score (" + " / ".join(labels) + " / Python) |")
    print("|---" * (2 * len(labels) + 3) + "|")
    for algorithm, extra in trials:
        hp = {"algorithm": algorithm, "target": "CLASS", "cross-validation": "true",
              "cv-scorer": "roc_auc" if args.classes <= 2 else "accuracy", "random-state": "42", **extra}
        if args.integer_labels:
            hp["task"] = "multiclass"  # many numbers would otherwise read as a regression target
        with open(os.path.join(root, "input/config/hyperparameters.json"), "w") as f:
            json.dump({k: json.dumps(v) for k, v in hp.items()}, f)
        sides = [(label, pin + [path, "train"]) for label, path in binaries]
        sides.append(("python", pin + [args.python, os.path.join(ROOT, "scripts/dev/original_trial.py")]))
        results = {}
        # Interleaved: run k of every side before run k + 1 of any, so that load shifts fall on all.
        runs = {name: [] for name, _ in sides}
        for _ in range(args.runs):
            for name, cmd in sides:
                runs[name].append(run(cmd, env))
        for name, measured in runs.items():
            results[name] = (sum(w for w, _, _ in measured) / len(measured), min(w for w, _, _ in measured),
                             max(m for _, m, _ in measured), measured[0][2])
        p = results["python"]
        label = algorithm + (" " + " ".join(f"{k}={v}" for k, v in extra.items()) if extra else "")
        cells = [f"{results[l][0]:.3f} s (min {results[l][1]:.3f}), {results[l][2]:.0f} MiB" for l in labels]
        ratios = [f"{p[0] / results[l][0]:.1f}×, memory {p[2] / results[l][2]:.1f}× less" for l in labels]
        scores = " / ".join(f"{results[l][3]:.4f}" for l in labels) + f" / {p[3]:.4f}"
        print(f"| {label} | " + " | ".join(cells) + f" | {p[0]:.3f} s (min {p[1]:.3f}), {p[2]:.0f} MiB | "
              + " | ".join(ratios) + f" | {scores} |", flush=True)
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
