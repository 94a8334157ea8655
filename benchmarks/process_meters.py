"""What a benchmark measures of other processes while they work, from /proc and Redis: peak resident memory of
a process tree, CPU seconds of a process tree, of the local Cassandra and of the whole machine, and Redis's
memory sampled during a run. Used by the scale benchmark's full passes (``benchmarks.scale``)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path


def process_tree_hwm(root_pid: int) -> dict[int, float]:
    """Peak RSS (VmHWM, MB) of ``root_pid`` and its children."""
    out: dict[int, float] = {}
    pids = [root_pid]
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                out[pid] = round(int(line.split()[1]) / 1024, 1)
        pids.extend(int(c) for c in children)
    return out


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root_pid: int) -> float:
    """CPU seconds (user + system) used so far by ``root_pid`` and its live descendants, with their ended
    children's (a pool process replaced after its task limit still counts)."""
    total, pids = 0, [root_pid]
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        pids.extend(int(c) for c in children)
    return total / CLOCK_TICKS


def cassandra_pid() -> int | None:
    """The local Cassandra's JVM (``make services``), found by its main class."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"CassandraDaemon" in (entry / "cmdline").read_bytes():
                    return int(entry.name)
            except OSError:
                continue
    return None


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the machine since boot, all cores (``/proc/stat``)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values) - idle) / CLOCK_TICKS, sum(values) / CLOCK_TICKS


class CpuMeter:
    """CPU seconds a pass takes: in the worker processes, in Cassandra, and on the whole machine."""

    def __init__(self, worker_pids: list[int]) -> None:
        self.worker_pids, self.cassandra = worker_pids, cassandra_pid()
        self.start = self._read()

    def _read(self) -> tuple[float, float, float, float]:
        busy, total = machine_cpu()
        workers = sum(tree_cpu_seconds(pid) for pid in self.worker_pids)
        return workers, tree_cpu_seconds(self.cassandra) if self.cassandra else 0.0, busy, total

    def result(self, faces: int) -> dict:
        end = self._read()
        workers, cassandra, busy, total = (b - a for a, b in zip(self.start, end, strict=True))
        return {"workers_s": round(workers, 1), "cassandra_s": round(cassandra, 1),
                "machine_busy_pct": round(100 * busy / total, 1) if total else None,
                "faces_per_worker_cpu_s": round(faces / workers, 1) if workers else None}  # fmt: skip


class RedisSampler(threading.Thread):
    """``used_memory`` of the Redis server every 0.2 s while a pass runs."""

    def __init__(self, client) -> None:
        super().__init__(daemon=True)
        self.client, self.samples, self.running = client, [], True

    def run(self) -> None:
        while self.running:
            self.samples.append(int(self.client.info("memory")["used_memory"]))
            time.sleep(0.2)

    def stop(self) -> int:
        self.running = False
        self.join(5)
        return max(self.samples, default=0)
