#!/usr/bin/env python3
"""Wall time, CPU time and peak memory per step of one `mmp` execution, as a Markdown table.

Steps' start and end come from the executor's state (`state.db` in the data folder); each
job's CPU seconds and peak resident memory from the lines `mmp-container` writes last in its
log (`mmp-cpu-seconds: <s>`, `mmp-peak-memory-mib: <MiB>`), which the data folder keeps.

usage: job_resources.py DATA_DIR [EXECUTION_ID]   (default: the newest execution; DATA_DIR
is the folder holding state.db, or the --data-dir of `mmp demo`)
"""
import os
import re
import sqlite3
import sys

CPU = re.compile(r"^mmp-cpu-seconds: ([0-9.]+)$", re.MULTILINE)
PEAK = re.compile(r"^mmp-peak-memory-mib: ([0-9.]+)$", re.MULTILINE)


def last(pattern, text):
    found = pattern.findall(text)
    return float(found[-1]) if found else None


def main():
    data_dir = sys.argv[1]
    if not os.path.exists(os.path.join(data_dir, "state.db")):
        data_dir = os.path.join(data_dir, "demo")  # `mmp --data-dir D demo` keeps it in D/demo
    db = sqlite3.connect(f"file:{os.path.join(data_dir, 'state.db')}?mode=ro", uri=True)
    if len(sys.argv) > 2:
        execution = sys.argv[2]
    else:
        execution = db.execute(
            "SELECT id FROM exec_executions ORDER BY created_ms DESC LIMIT 1").fetchone()[0]
    steps = db.execute(
        "SELECT name, step_type, status, started_ms, ended_ms FROM exec_steps "
        "WHERE execution_id = ? ORDER BY started_ms", (execution,)).fetchall()
    print(f"execution {execution}\n")
    print("| step | status | wall | jobs | CPU | peak memory (largest job) |")
    print("|---|---|---|---|---|---|")
    for name, kind, status, started, ended in steps:
        jobs = db.execute(
            "SELECT log_path FROM exec_jobs WHERE execution_id = ? AND step_name = ?",
            (execution, name)).fetchall()
        cpu, peak = 0.0, None
        for (log_path,) in jobs:
            try:
                with open(log_path, errors="replace") as f:
                    text = f.read()
            except OSError:
                continue
            cpu += last(CPU, text) or 0.0
            p = last(PEAK, text)
            if p is not None:
                peak = p if peak is None else max(peak, p)
        wall = f"{(ended - started) / 1000:.1f} s" if started and ended else "—"
        cells = [name, status, wall, str(len(jobs)),
                 f"{cpu:.1f} s" if jobs else "—",
                 f"{peak:.0f} MiB" if peak is not None else "—"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
