"""Runs a command and prints the peak total PSS (proportional set size, KB)
of it and all its descendants, sampled every 10 ms. PSS splits shared pages
(a memory-mapped snapshot, say) among the processes that map them, so the
sum is the real memory the process tree uses.
Usage: python3 bench/peak_pss.py CMD [ARGS...]"""
import os
import subprocess
import sys
import time


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def pss(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
peak = 0
while proc.poll() is None:
    peak = max(peak, sum(pss(p) for p in descendants(proc.pid)))
    time.sleep(0.01)
print(peak)
