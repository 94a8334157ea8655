"""Local server processes: what ``spawn`` sets up for them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from common.infra.local_services import processes


def _slack_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/timerslack_ns").read_text())


def test_a_spawned_server_runs_with_the_timer_slack_asked_for(tmp_path):
    # Cassandra is started this way: its polling threads inherit the slack (common/infra/local_services/cassandra.py).
    sleeper = [sys.executable, "-c", "import time; time.sleep(30)"]
    slack = processes.spawn(sleeper, tmp_path / "a.log", tmp_path / "a.pid", timer_slack_ns=250_000)
    plain = processes.spawn(sleeper, tmp_path / "b.log", tmp_path / "b.pid")
    try:
        assert _slack_of(slack) == 250_000
        assert _slack_of(plain) == _slack_of(os.getpid())  # inherited unchanged
    finally:
        processes.stop_pid(tmp_path / "a.pid", timeout=10)
        processes.stop_pid(tmp_path / "b.pid", timeout=10)
