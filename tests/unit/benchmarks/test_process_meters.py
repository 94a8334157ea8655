"""The scale benchmark's CPU accounting: a worker's pool children count, and an idle process costs nothing."""

from __future__ import annotations

import subprocess
import sys
import time

from benchmarks.process_meters import CpuMeter, tree_cpu_seconds

BURN = "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass\ntime.sleep(30)"
PARENT = f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {BURN!r}])\ntime.sleep(30)"


def test_the_cpu_of_a_processs_children_counts_toward_it():
    parent = subprocess.Popen([sys.executable, "-c", PARENT])
    try:
        meter = CpuMeter([parent.pid])
        time.sleep(2.5)  # the child burns 0.6 s of CPU, then sleeps
        used = meter.result(faces=1000)
        assert 0.5 <= used["workers_s"] <= 1.5, used
        assert 1000 / 1.5 <= used["faces_per_worker_cpu_s"] <= 1000 / 0.5, used
        assert 0 < used["machine_busy_pct"] <= 100
    finally:
        parent.kill()


def test_an_idle_process_uses_no_cpu():
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.5)
        before = tree_cpu_seconds(idle.pid)
        time.sleep(1.0)
        assert tree_cpu_seconds(idle.pid) - before < 0.05
    finally:
        idle.kill()
