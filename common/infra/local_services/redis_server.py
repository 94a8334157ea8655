"""A local redis-server (Debian's package) with append-only persistence."""

from __future__ import annotations

import shutil
from pathlib import Path

from common.infra.local_services import processes


class RedisError(RuntimeError):
    pass


class LocalRedis:
    name = "redis"

    def __init__(self, state_dir: Path, port: int = 6379):
        self.home = state_dir / "redis"
        self.log_file = self.home / "redis.log"
        self.pid_file = self.home / "redis.pid"
        self.port = port

    def command(self) -> list[str]:
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(server).exists():
            raise RedisError("redis-server is not installed; run `make install` (apt package redis-server)")
        return [
            server,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.home),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "60 1",
            "--daemonize", "no",
            "--protected-mode", "yes",
        ]  # fmt: skip

    def status(self) -> processes.ProcessStatus:
        pid = processes.read_pid(self.pid_file)
        return processes.ProcessStatus(self.name, pid is not None, pid, f"redis://127.0.0.1:{self.port}/0")

    def start(self, wait: float = 30.0) -> bool:
        if processes.read_pid(self.pid_file) is not None:
            return False
        if processes.port_open("127.0.0.1", self.port):
            raise RedisError(f"port {self.port} is taken by another process (not ours); stop it or set PP_REDIS_URL")
        self.home.mkdir(parents=True, exist_ok=True)
        processes.spawn(self.command(), self.log_file, self.pid_file, cwd=self.home)
        if not processes.wait_until(lambda: processes.port_open("127.0.0.1", self.port), wait, 0.2):
            raise RedisError(f"redis-server did not start; see {self.log_file}")
        return True

    def stop(self) -> bool:
        return processes.stop_pid(self.pid_file, timeout=30)
