"""Runs a command in a session of its own and reports its wall time and the peak number of
threads of its whole process tree (the sum of `Threads:` in /proc/<pid>/status over every
process of the session, sampled every 20 ms). Linux only.

    python3 scripts/bench/peak_threads.py target/release/mmp --data-dir /tmp/mmp-bench demo
"""
import os
import subprocess
import sys
import time


def threads_of_session(sid):
    total = processes = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.getsid(int(pid)) != sid:
                continue
            with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
                for line in f:
                    if line.startswith("Threads:"):
                        total += int(line.split()[1])
                        processes += 1
        except OSError:  # the process ended while we looked
            continue
    return total, processes


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    start = time.monotonic()
    child = subprocess.Popen(
        sys.argv[1:], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    peak = (0, 0)
    while child.poll() is None:
        peak = max(peak, threads_of_session(child.pid))
        time.sleep(0.02)
    wall = time.monotonic() - start
    print(f"exit {child.returncode}, wall {wall:.1f} s, peak {peak[0]} threads in {peak[1]} processes")
    sys.exit(child.returncode)


if __name__ == "__main__":
    main()
