"""The web benchmark's load: wrk windows (``web_load.lua``), their latency histograms pooled, every page
primed into the page cache, and a probe of how fast the machine is just now."""

from __future__ import annotations

import collections
import http.client
import json
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

LUA = Path(__file__).with_name("web_load.lua")


def wrk_window(port: int, cookie: str, paths_file: Path, clients: int, seconds: float, think: float = 0.0) -> dict:
    """``clients`` closed-loop connections from wrk (a C load generator: it takes little of the CPU the
    server needs) for ``seconds``, each GETting a random path of ``paths_file`` and pausing ``think`` s
    (±50 %) between requests (0: none, a stress test). wrk's summary, with its latency histogram."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (make install puts it there: apt-get install wrk)")
    env = {**os.environ, "PP_BENCH_COOKIE": cookie, "PP_BENCH_THINK_MS": str(int(think * 1000))}
    out = subprocess.run(
        [wrk, "-t", "2", "-c", str(clients), "-d", f"{max(1, round(seconds))}s", "--timeout", "30s",
         "-s", str(LUA), f"http://127.0.0.1:{port}", "--", str(paths_file)],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def prime(port: int, cookie: str, paths: list[str], connections: int = 4) -> None:
    """GET every path once (``connections`` at a time), so each is in the page cache."""

    def get(path: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", path, headers={"Cookie": cookie, "Accept": "text/html"})
        conn.getresponse().read()
        conn.close()

    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(get, paths))


def summarize(windows: list[dict]) -> dict:
    """Requests/s and p50/p95/p99/mean (ms) over every request of the windows (their histograms pooled, the
    percentiles ranked as wrk ranks them); with several windows, each one's p95 and requests/s too."""
    counts: collections.Counter[int] = collections.Counter()
    for window in windows:
        counts.update(dict(window["hist"]))
    total = sum(counts.values())

    def percentile(p: float) -> float:
        rank, seen = round(p / 100 * total + 0.5), 0
        for value in sorted(counts):
            seen += counts[value]
            if seen >= rank:
                return value / 1000
        return 0.0

    duration = sum(w["duration_us"] for w in windows) / 1e6
    requests = sum(w["requests"] for w in windows)
    mean = sum(value * n for value, n in counts.items()) / total / 1000 if total else 0.0
    out = {"requests": requests, "errors": sum(w["errors"] for w in windows), "rps": round(requests / duration, 1),
           "p50_ms": round(percentile(50), 1), "p95_ms": round(percentile(95), 1),
           "p99_ms": round(percentile(99), 1), "mean_ms": round(mean, 1)}  # fmt: skip
    if len(windows) > 1:
        out["rounds_p95_ms"] = [round(w["p95_us"] / 1000, 1) for w in windows]
        out["rounds_rps"] = [round(w["requests"] / (w["duration_us"] / 1e6), 1) for w in windows]
    return out


def cpu_probe_ms() -> float:
    """CPU time of a fixed pure-Python loop: how fast the machine is just now (shared machines drift)."""
    started, total = time.process_time(), 0
    for i in range(2_000_000):
        total += i * i
    return round((time.process_time() - started) * 1000, 1)
