"""A real gunicorn web server for tests, started the way the Procfile and the chart start it (the project's
gunicorn config, a public and a metrics address), on free ports, with the test run's environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.process_group import stop_group

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, headers: dict[str, str] | None = None, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a GET, errors included (a new connection each time)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


class GunicornServer:
    def __init__(self, log_path: Path, env: dict[str, str] | None = None, workers: int = 2):
        self.port, self.metrics_port = free_port(), free_port()
        self.env = {**os.environ, "PP_METRICS_PORT": str(self.metrics_port), "PP_WEB_WORKERS": str(workers),
                    **(env or {})}  # fmt: skip
        self.workers = workers
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def start(self, wait: float = 60.0) -> GunicornServer:
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            [gunicorn, "-c", "python:visualization_web.gunicorn_conf", "--bind", f"127.0.0.1:{self.port}",
             "--bind", f"127.0.0.1:{self.metrics_port}", "visualization_web.app:create_app()"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_path.read_text()[-3000:]}")
            try:
                if get(f"{self.url}/healthz", timeout=2)[0] in (200, 503) and len(self.worker_pids()) == self.workers:
                    return self
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn not ready in {wait}s: {self.log_path.read_text()[-3000:]}")

    def worker_pids(self) -> list[int]:
        """The master's child processes (the web processes)."""
        assert self.proc is not None
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == self.proc.pid:
                children.append(int(entry.name))
        return sorted(children)

    def stop(self, timeout: float = 30.0) -> None:
        stop_group(self.proc, timeout)
        if getattr(self, "log", None):
            self.log.close()
