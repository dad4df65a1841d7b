#!/usr/bin/env python3
"""The executor's share of a default-budget `mmp demo`: its wall time against the time its jobs'
CPU needs on this machine's cores.

Each `mmp-container` job logs its CPU time (`mmp-cpu-seconds: <s>`, user + system over all its
threads) as it exits; the logs stay in the data folder. That count starts in `main` and ends
before the process exits, so it leaves out each job's exec, dynamic loading and teardown. The
kernel's count leaves nothing out: while the demo runs, this script reads the `mmp` process's
/proc/PID/stat every 20 ms, whose cutime + cstime is the CPU of every child it has reaped (its
jobs, and the endpoint's serving process, which is small) and whose utime + stime is `mmp`'s
own. The ratios are

    demo wall time / (the jobs' CPU seconds / cores)

once with the jobs' own count and once with the kernel's. 1.0 would mean the cores did nothing
but the jobs' work, start to end; what is above it is the executor's scheduling, waiting on
stragglers at each step's end, and the demo's own approvals, deployments and invocations (and,
with the jobs' own count, their process starts).

usage: executor_share.py MMP_BINARY [DATA_DIR]
"""
import os
import re
import subprocess
import sys
import tempfile
import time

CPU_LINE = re.compile(r"^mmp-cpu-seconds: ([0-9.]+)$", re.MULTILINE)
TICKS = os.sysconf("SC_CLK_TCK")


def stat_times(pid):
    """(own, reaped children's) CPU seconds of a live process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # Fields 14-17 of proc(5), counted from the state, which is field 3.
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return (utime + stime) / TICKS, (cutime + cstime) / TICKS


def main():
    mmp = os.path.abspath(sys.argv[1])
    data_dir = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="mmp-share-")
    started = time.monotonic()
    demo = subprocess.Popen([mmp, "--data-dir", data_dir, "demo"], stdout=subprocess.DEVNULL)
    last = (0.0, 0.0)
    while demo.poll() is None:
        times = stat_times(demo.pid)
        if times is not None and demo.poll() is None:
            last = times
        time.sleep(0.02)
    wall = time.monotonic() - started
    if demo.returncode != 0:
        sys.exit(f"mmp demo failed with status {demo.returncode}")
    jobs, cpu = 0, 0.0
    for folder, _, names in os.walk(data_dir):
        if "job.log" in names:
            with open(os.path.join(folder, "job.log"), errors="replace") as log:
                found = CPU_LINE.findall(log.read())
            if found:
                jobs += 1
                cpu += float(found[-1])
    own, children = last
    cores = os.cpu_count()
    print(f"demo wall {wall:.2f} s on {cores} cores; {jobs} jobs")
    print(f"  the jobs' own count:  {cpu:.2f} CPU s, ratio {wall / (cpu / cores):.2f}")
    print(f"  the kernel's count:   {children:.2f} CPU s, ratio {wall / (children / cores):.2f}")
    print(f"  mmp's own threads:    {own:.2f} CPU s")


if __name__ == "__main__":
    main()
