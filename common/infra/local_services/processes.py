"""Start, stop and inspect detached local server processes through pid files."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessStatus:
    name: str
    running: bool
    pid: int | None
    address: str
    detail: str = ""

    def line(self) -> str:
        state = f"running (pid {self.pid})" if self.running else "stopped"
        extra = f"  {self.detail}" if self.detail else ""
        return f"{self.name:<10} {state:<22} {self.address}{extra}"


def read_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited child not yet reaped) is not alive for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def spawn(argv: list[str], log_file: Path, pid_file: Path, cwd: Path | None = None,
          timer_slack_ns: int | None = None) -> int:  # fmt: skip
    """Start ``argv`` in its own session, output appended to ``log_file``.

    ``timer_slack_ns``: the process's timer slack (prctl PR_SET_TIMERSLACK; its threads inherit it).
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    preexec = _timer_slack_setter(timer_slack_ns) if timer_slack_ns else None
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=preexec,
        )
    pid_file.write_text(str(proc.pid))
    return proc.pid


PR_SET_TIMERSLACK = 29


def _timer_slack_setter(nanoseconds: int) -> Callable[[], None]:
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork, only called after it

    def set_slack() -> None:
        prctl(PR_SET_TIMERSLACK, ctypes.c_ulong(nanoseconds), 0, 0, 0)

    return set_slack


def stop_pid(pid_file: Path, timeout: float = 60.0) -> bool:
    """SIGTERM the process in ``pid_file`` and wait; SIGKILL after ``timeout``."""
    pid = read_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            break
        _reap(pid)
        time.sleep(0.2)
    else:
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
    _reap(pid)
    pid_file.unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def wait_until(check, timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()
