#!/usr/bin/env python3
"""timed.py OUTFILE TIMEOUT CMD...: runs CMD, kills it after TIMEOUT seconds (0: never), and
writes "wall_seconds cpu_seconds exit_code timed_out" to OUTFILE (cpu = user + system of CMD
and its children)."""
import os
import resource
import signal
import subprocess
import sys
import time

out, timeout, cmd = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
start = time.perf_counter()
proc = subprocess.Popen(cmd, start_new_session=True)
timed_out = False
try:
    code = proc.wait(timeout=timeout or None)
except subprocess.TimeoutExpired:
    timed_out = True
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        code = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        code = proc.wait()
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(out, "w") as f:
    f.write("%.3f %.3f %d %d\n" % (wall, usage.ru_utime + usage.ru_stime, code, int(timed_out)))
sys.exit(0)
