"""/metrics of a real gunicorn with 2 web processes under load: every scrape is the sum over the processes, so
no counter ever goes back, not even when a web process is killed and replaced, and the final count is exact."""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from collections import Counter

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.gunicorn_server import GunicornServer, get

pytestmark = pytest.mark.integration

PATHS = ("/login", "/api/v1/personas", "/healthz")  # 200, 401, 200: no login needed


def _request_counts(server: GunicornServer) -> dict[tuple, float]:
    status, _headers, body = get(server.metrics_url)
    assert status == 200
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        if family.name in ("pp_http_requests", "pp_http_request_duration_seconds"):
            for sample in family.samples:
                if sample.name in ("pp_http_requests_total", "pp_http_request_duration_seconds_count"):
                    out[(sample.name, *sorted(sample.labels.items()))] = sample.value
    return out


def _processes_with_counts(tmp_path) -> set[str]:
    """The web processes (pids) that have counter files in this start's metrics folder."""
    return {p.name.rpartition("_")[2].removesuffix(".db") for p in (tmp_path / "metrics").rglob("counter_*.db")}


@pytest.fixture
def gunicorn(web_db, tmp_path):
    server = GunicornServer(tmp_path / "gunicorn.log", env={"PP_METRICS_DIR": str(tmp_path / "metrics"),
                                                            "PP_WEB_WORKER_CLASS": "sync"})  # fmt: skip
    yield server.start()
    server.stop()


def test_scrapes_under_load_never_go_back_and_sum_every_process(gunicorn, tmp_path):
    sent: Counter = Counter()
    lock = threading.Lock()
    stop = threading.Event()

    def load(path: str) -> None:
        while not stop.is_set():
            try:
                status = get(gunicorn.url + path)[0]
            except Exception:  # cut by the kill (a reset, a bad status line): maybe counted by the process that died
                status = 0
            with lock:
                sent[(path, status)] += 1

    baseline = _request_counts(gunicorn)  # the readiness checks of the start
    threads = [threading.Thread(target=load, args=(path,), daemon=True) for path in PATHS for _ in range(2)]
    for thread in threads:
        thread.start()
    scrapes = []
    first_pids = gunicorn.worker_pids()
    deadline = time.monotonic() + 60
    try:
        # at least 40 scrapes, and on until the replacement of the killed process has served requests too
        while len(scrapes) < 40 or (len(_processes_with_counts(tmp_path)) < 3 and time.monotonic() < deadline):
            time.sleep(0.1)
            scrapes.append(_request_counts(gunicorn))
            if len(scrapes) == 10:  # a web process dies mid-load; gunicorn replaces it
                os.kill(first_pids[0], signal.SIGKILL)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    final = _request_counts(gunicorn)
    scrapes.append(final)

    for earlier, later in itertools.pairwise(scrapes):
        for series, value in earlier.items():
            assert later.get(series, 0) >= value, f"{series} went back from {value} to {later.get(series)}"
    assert sorted(gunicorn.worker_pids()) != sorted(first_pids)  # the killed process was replaced

    # Exact: every request the load made is counted once, whichever process served it (the /metrics scrapes
    # themselves are not counted); a request cut by the kill may or may not have been counted.
    counted = {(dict(k[1:])["route"], int(dict(k[1:])["status"])): v - baseline.get(k, 0) for k, v in final.items()
               if k[0] == "pp_http_requests_total"}  # fmt: skip
    answered = {key: n for key, n in sent.items() if key[1]}
    assert set(answered) == {("/login", 200), ("/api/v1/personas", 401), ("/healthz", 200)}
    assert sum(answered.values()) > 200
    cut = sum(n for (_path, status), n in sent.items() if status == 0)
    for key, n in answered.items():
        assert n <= counted.get(key, 0) <= n + cut, (key, counted.get(key), n, cut)
    assert len(_processes_with_counts(tmp_path)) >= 3  # the two first processes and the replacement: all summed
