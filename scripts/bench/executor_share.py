#!/usr/bin/env python3
"""The executor's share of a default-budget `mmp demo`: its wall time against the time its jobs'
CPU needs on this machine's cores.

Each `mmp-container` job logs its CPU time (`mmp-cpu-seconds: <s>`, user + system over all its
threads) as it exits; the logs stay in the data folder. The ratio is

    demo wall time / (sum of the jobs' CPU seconds / cores)

1.0 would mean the cores did nothing but the jobs' work, start to end; what is above it is
the executor's scheduling, process starts, waiting on stragglers at each step's end, and the
demo's own approvals, deployments and invocations.

usage: executor_share.py MMP_BINARY [DATA_DIR]
"""
import os
import re
import subprocess
import sys
import tempfile
import time

CPU_LINE = re.compile(r"^mmp-cpu-seconds: ([0-9.]+)$", re.MULTILINE)


def main():
    mmp = os.path.abspath(sys.argv[1])
    data_dir = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="mmp-share-")
    started = time.monotonic()
    subprocess.run([mmp, "--data-dir", data_dir, "demo"], check=True, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - started
    jobs, cpu = 0, 0.0
    for folder, _, names in os.walk(data_dir):
        if "job.log" in names:
            with open(os.path.join(folder, "job.log"), errors="replace") as log:
                found = CPU_LINE.findall(log.read())
            if found:
                jobs += 1
                cpu += float(found[-1])
    cores = os.cpu_count()
    ideal = cpu / cores
    print(f"demo wall {wall:.1f} s; {jobs} jobs used {cpu:.1f} CPU s on {cores} cores "
          f"(at best {ideal:.1f} s of wall time); ratio {wall / ideal:.2f}")


if __name__ == "__main__":
    main()
