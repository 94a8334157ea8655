"""Stopping a server the tests started in its own session (``start_new_session=True``): the whole process
group, so no pool child or web process outlives the test and steals the next test's work."""

from __future__ import annotations

import os
import signal
import subprocess


def kill_group(proc: subprocess.Popen | None) -> None:
    """SIGKILL the group (parent and children): a crash, no warm shutdown."""
    if proc and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def stop_group(proc: subprocess.Popen | None, timeout: float = 30.0) -> None:
    """SIGTERM the group and wait ``timeout`` seconds for a warm shutdown, then SIGKILL it."""
    if proc and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
