#!/usr/bin/env python3
"""Tuning strategies side by side: the best CV score after n trials, and the tuning wall time
to get within 0.002 of the best score any strategy found, for every strategy, dataset and seed.

Each (dataset, seed, strategy) is one execution of the whole pipeline on a running `mmp up`,
chosen through `pipeline.json` (`tuning_strategy`, `random_state`, `max_tuning_jobs`), run one
at a time so that wall times compare. The seed also draws the split and the folds, so strategies
are compared at the same seed only. A trial counts once it completed (early-stopped trials
have no final score).

Writes BENCH_DIR/results.json (every trial: objective, status, end time), prints the tables
docs/benchmarks.md shows, and draws BENCH_DIR/tuning-strategies.png (needs matplotlib).

usage: tuning_strategies.py MMP_BINARY BENCH_DIR [--seeds 5] [--trials 60] [--parallel 2]
           [--datasets breast-cancer,wine,diabetes] [--synthetic 20000] [--strategies ...]
           [--plot-only]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STRATEGIES = ["Random", "Bayesian", "Hyperband", "Grid"]
WITHIN = 0.002
CHECKPOINTS = [5, 10, 20, 30, 60]


def settings_for(dataset, strategy, seed, trials, parallel):
    base = {}
    own = REPO / "datasets" / dataset / "pipeline.json"
    if own.is_file():
        base = json.loads(own.read_text())
    base.update({
        "tuning_strategy": strategy,
        "random_state": seed,
        "max_tuning_jobs": trials,
        "max_parallel_tuning_jobs": parallel,
        "registration_threshold": -1e9,
    })
    return base


def csv_for(dataset, work, synthetic_rows):
    if dataset.startswith("synthetic"):
        path = work / f"{dataset}.csv"
        if not path.exists():
            subprocess.run([sys.executable, str(REPO / "scripts/dev/gen_dataset.py"), str(path),
                            "--rows", str(synthetic_rows), "--columns", "21"], check=True)
        return path
    return REPO / "datasets" / dataset / f"{dataset}.csv"


def mmp_json(mmp, data_dir, *args):
    out = subprocess.run([mmp, "--data-dir", data_dir, *args, "--json"], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def run_one(mmp, data_dir, work, dataset, strategy, seed, args):
    name = f"{dataset}-{strategy.lower()}-{seed}"
    folder = work / "inputs" / name
    folder.mkdir(parents=True, exist_ok=True)
    settings = folder / "pipeline.json"
    settings.write_text(json.dumps(settings_for(dataset, strategy, seed, args.trials, args.parallel)))
    csv = csv_for(dataset, work, args.synthetic)
    subprocess.run([mmp, "--data-dir", data_dir, "upload", str(csv), "--dataset", name,
                    "--settings", str(settings)], check=True, stdout=subprocess.DEVNULL)
    while True:
        runs = [e for e in mmp_json(mmp, data_dir, "executions")
                if e["parameters"].get("DatasetName") == name]
        if runs and runs[0]["status"] not in ("Executing", "Stopping"):
            break
        time.sleep(0.5)
    steps = mmp_json(mmp, data_dir, "executions", runs[0]["id"])
    tuning = next(s for s in steps if s["step_type"] == "Tuning")
    start = parse_time(tuning["started"])
    trials = [{
        "status": j["status"],
        "objective": j.get("objective"),
        "definition": j.get("definition_name"),
        "ended": parse_time(j["ended"]) - start if j.get("ended") else None,
    } for j in tuning["jobs"]]
    wall = parse_time(tuning["ended"]) - start if tuning.get("ended") else None
    return {"dataset": dataset, "strategy": strategy, "seed": seed, "status": runs[0]["status"],
            "tuning_wall": wall, "trials": trials}


def parse_time(text):
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def best_curve(trials):
    """Best completed objective after each trial, in trial order (None before the first)."""
    best, curve = None, []
    for t in trials:
        if t["status"] == "Completed" and t["objective"] is not None:
            best = t["objective"] if best is None else max(best, t["objective"])
        curve.append(best)
    return curve


def time_to(trials, target):
    """Tuning seconds until a completed trial reaches target (None if none does)."""
    ends = [t["ended"] for t in trials
            if t["status"] == "Completed" and t["objective"] is not None
            and t["objective"] >= target and t["ended"] is not None]
    return min(ends) if ends else None


def at(curve, n):
    return curve[min(n, len(curve)) - 1] if curve else None


def summarize(results):
    by_key = {}
    for r in results:
        by_key.setdefault((r["dataset"], r["seed"]), {})[r["strategy"]] = r
    rows = {}
    for (dataset, seed), runs in sorted(by_key.items()):
        everything = [t["objective"] for r in runs.values() for t in r["trials"]
                      if t["status"] == "Completed" and t["objective"] is not None]
        if not everything:
            continue
        best_any = max(everything)
        random60 = max(best_curve(runs["Random"]["trials"]), default=None,
                       key=lambda v: -1e300 if v is None else v) if "Random" in runs else None
        for strategy, r in runs.items():
            curve = best_curve(r["trials"])
            reach = None
            if random60 is not None:
                reach = next((i + 1 for i, b in enumerate(curve) if b is not None and b >= random60), None)
            rows.setdefault((dataset, strategy), []).append({
                "seed": seed,
                "best_at": {n: at(curve, n) for n in CHECKPOINTS},
                "trials_to_random60": reach,
                "seconds_to_within": time_to(r["trials"], best_any - WITHIN),
                "seconds_to_random60": time_to(r["trials"], random60) if random60 is not None else None,
                "tuning_wall": r["tuning_wall"],
            })
    return rows


def mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def fmt(v, digits=4):
    return "—" if v is None else f"{v:.{digits}f}"


def print_tables(rows, seeds):
    print("| dataset | strategy | best after 10 | 20 | 30 | 60 | reached Random's 60-trial best "
          "within 20 trials | trials to it (mean) | tuning s to within 0.002 of best (mean) | "
          "tuning s to Random's 60-trial best (mean) | tuning wall s (mean) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for (dataset, strategy), runs in sorted(rows.items()):
        within20 = sum(1 for r in runs if r["trials_to_random60"] is not None and r["trials_to_random60"] <= 20)
        reach = [r["trials_to_random60"] for r in runs]
        print(f"| {dataset} | {strategy} | "
              + " | ".join(fmt(mean([r["best_at"][n] for r in runs])) for n in (10, 20, 30, 60))
              + f" | {within20}/{len(runs)} | {fmt(mean(reach), 1)}"
              + (f" ({sum(1 for r in reach if r is None)} never)" if any(r is None for r in reach) else "")
              + f" | {fmt(mean([r['seconds_to_within'] for r in runs]), 1)}"
              + f" | {fmt(mean([r['seconds_to_random60'] for r in runs]), 1)}"
              + f" | {fmt(mean([r['tuning_wall'] for r in runs]), 1)} |")


def print_families(results, at=(20, 60)):
    """Where each strategy spends its first n trials, by definition (mean trials per run), and
    in how many runs each definition holds the best of those n. Runs recorded before trials
    carried their definition are left out."""
    groups = {}
    for r in results:
        if r["trials"] and all(t.get("definition") for t in r["trials"]):
            groups.setdefault((r["dataset"], r["strategy"]), []).append(r)
    if not groups:
        return
    print()
    print("| dataset | strategy | first n trials | trials per run, by definition | "
          "runs where it holds the best |")
    print("|---|---|---|---|---|")
    for (dataset, strategy), runs in sorted(groups.items()):
        for n in at:
            if min(len(r["trials"]) for r in runs) < n:
                continue
            spent, best = {}, {}
            for r in runs:
                first = r["trials"][:n]
                for t in first:
                    spent[t["definition"]] = spent.get(t["definition"], 0) + 1
                scored = [t for t in first if t["status"] == "Completed" and t["objective"] is not None]
                if scored:
                    top = max(scored, key=lambda t: t["objective"])["definition"]
                    best[top] = best.get(top, 0) + 1
            order = sorted(spent, key=lambda d: -spent[d])
            print(f"| {dataset} | {strategy} | {n} | "
                  + ", ".join(f"{d} {spent[d] / len(runs):.1f}" for d in order) + " | "
                  + ", ".join(f"{d} {best[d]}" for d in order if d in best) + " |")


def plot(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot", file=sys.stderr)
        return
    datasets = sorted({r["dataset"] for r in results})
    fig, axes = plt.subplots(2, len(datasets), figsize=(4.2 * len(datasets), 7.5), squeeze=False)
    colours = {"Random": "tab:grey", "Bayesian": "tab:blue", "Hyperband": "tab:orange", "Grid": "tab:green"}
    # Hyperband runs Random's configurations (the same seed draws the same ones), so by trial
    # its line lies on Random's: Random is drawn wide underneath, Hyperband dashed on top.
    styles = {"Random": {"linewidth": 4, "alpha": 0.45}, "Hyperband": {"linestyle": "--"}}
    for col, dataset in enumerate(datasets):
        mine = [r for r in results if r["dataset"] == dataset]
        for strategy in STRATEGIES:
            runs = [r for r in mine if r["strategy"] == strategy]
            if not runs:
                continue
            # Mean over seeds of (best so far − that seed's best of any strategy): 0 is the best.
            gaps_by_trial, gaps_by_time = [], []
            for r in runs:
                same_seed = [x for x in mine if x["seed"] == r["seed"]]
                best_any = max(t["objective"] for x in same_seed for t in x["trials"]
                               if t["status"] == "Completed" and t["objective"] is not None)
                curve = best_curve(r["trials"])
                gaps_by_trial.append([None if b is None else best_any - b for b in curve])
                done = sorted((t["ended"], t["objective"]) for t in r["trials"]
                              if t["status"] == "Completed" and t["objective"] is not None)
                best, points = None, []
                for end, objective in done:
                    best = objective if best is None else max(best, objective)
                    points.append((end, best_any - best))
                gaps_by_time.append(points)
            n = max(len(g) for g in gaps_by_trial)
            xs = list(range(1, n + 1))
            ys = [mean([g[i] if i < len(g) else None for g in gaps_by_trial]) for i in range(n)]
            axes[0][col].step(xs, [y if y is not None else float("nan") for y in ys], where="post",
                              label=strategy, color=colours[strategy], **styles.get(strategy, {}))
            horizon = max((p[-1][0] for p in gaps_by_time if p), default=1.0)
            grid = [horizon * i / 200 for i in range(201)]
            mean_gap = []
            for t in grid:
                at_t = []
                for points in gaps_by_time:
                    seen = [g for end, g in points if end <= t]
                    at_t.append(seen[-1] if seen else None)
                mean_gap.append(mean(at_t))
            axes[1][col].step(grid, [y if y is not None else float("nan") for y in mean_gap],
                              where="post", label=strategy, color=colours[strategy],
                              **styles.get(strategy, {}))
        for row, xlabel in ((0, "trials"), (1, "tuning seconds")):
            ax = axes[row][col]
            ax.set_yscale("symlog", linthresh=1e-3)
            ax.axhline(WITHIN, color="black", linewidth=0.6, linestyle=":")
            ax.set_xlabel(xlabel)
            ax.set_title(dataset if row == 0 else "")
            ax.grid(alpha=0.3)
        axes[0][col].set_ylabel("best of any strategy − best so far")
        axes[1][col].set_ylabel("same, against wall time")
    axes[0][0].legend()
    fig.suptitle("Tuning strategies: mean gap to the best score found, over seeds (lower is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot: {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mmp")
    parser.add_argument("bench_dir")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--datasets", default="breast-cancer,wine,diabetes")
    parser.add_argument("--synthetic", type=int, default=20000, help="rows; 0: none")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--plot-only", action="store_true")
    args = parser.parse_args()
    work = Path(args.bench_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    results_file = work / "results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else []
    if not args.plot_only:
        datasets = [d for d in args.datasets.split(",") if d]
        if args.synthetic:
            datasets.append(f"synthetic-{args.synthetic // 1000}k")
        done = {(r["dataset"], r["strategy"], r["seed"]) for r in results}
        data_dir = tempfile.mkdtemp(prefix="mmp-strategies-", dir=work)
        mmp = os.path.abspath(args.mmp)
        up = subprocess.Popen([mmp, "--data-dir", data_dir, "up"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
        try:
            for line in up.stdout:
                if "console" in line.lower():
                    break
            for dataset in datasets:
                for seed in range(1, args.seeds + 1):
                    for strategy in args.strategies.split(","):
                        if (dataset, strategy, seed) in done:
                            continue
                        r = run_one(mmp, data_dir, work, dataset, strategy, seed, args)
                        print(f"{dataset} seed {seed} {strategy}: {r['status']}, "
                              f"{fmt(r['tuning_wall'], 1)} s", flush=True)
                        results.append(r)
                        results_file.write_text(json.dumps(results))
        finally:
            up.terminate()
            up.wait()
    print_tables(summarize(results), args.seeds)
    print_families(results)
    plot(results, work / "tuning-strategies.png")


if __name__ == "__main__":
    main()
