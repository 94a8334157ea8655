"""Real Celery worker processes for tests, started with the test run's environment."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.support.process_group import kill_group, stop_group

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    def __init__(self, app: str, queues: str, name: str, concurrency: int = 1, env: dict | None = None,
                 log_dir: Path | None = None, pool: str = "prefork", extra_args: list[str] | None = None):  # fmt: skip
        self.app, self.queues, self.name = app, queues, name
        self.concurrency, self.pool = concurrency, pool
        self.extra_args = list(extra_args or [])
        self.env = {**os.environ, **(env or {})}
        self.log_path = (log_dir or Path("/tmp")) / f"worker-{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, wait: float = 60.0) -> WorkerProcess:
        return self.launch().wait_ready(wait)

    def launch(self) -> WorkerProcess:
        """Start the process without waiting (start several, then ``wait_ready`` on each)."""
        celery = str(Path(sys.executable).with_name("celery"))
        self.log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        self.ready_offset = self.log_path.stat().st_size
        self.proc = subprocess.Popen(
            [celery, "-A", self.app, "worker", "-Q", self.queues, "-n", f"{self.name}@%h",
             "--concurrency", str(self.concurrency), "--pool", self.pool, "--loglevel", "INFO",
             "--without-gossip", "--without-mingle", *self.extra_args],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        return self

    def wait_ready(self, wait: float = 60.0) -> WorkerProcess:
        assert self.proc is not None, "launch() first"
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited: {self.log_path.read_text()[-3000:]}")
            if b"ready." in self.log_path.read_bytes()[self.ready_offset :]:
                return self
            time.sleep(0.3)
        raise RuntimeError(f"worker {self.name} not ready in {wait}s: {self.log_path.read_text()[-3000:]}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL the whole worker (parent and pool children): a crash, no warm shutdown."""
        kill_group(self.proc)

    def stop(self, timeout: float = 30.0) -> None:
        stop_group(self.proc, timeout)
        if getattr(self, "log", None):
            self.log.close()
