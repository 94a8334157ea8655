"""`/metrics`: Prometheus text format, numbers only (no names, paths or secrets), on its own port.

``/metrics`` is served only to requests that arrived on ``PP_METRICS_PORT`` (gunicorn binds it as a second
address: ``--bind 0.0.0.0:8000 --bind 0.0.0.0:9464``), and that port serves nothing else. The Service and
the ingress route only the public port, so the internals stay inside the cluster, where Prometheus scrapes
the pods directly. The port is taken from ``SERVER_PORT``, which gunicorn sets from the listening socket
(not from the Host header) for TCP addresses; do not bind the metrics port to a unix socket.

Request counts and latency histograms are kept in this process (each gunicorn worker reports its own;
Prometheus sums them per instance). Corpus counts are the dashboard's: counters kept on write, a few
partition reads (``visualization_web.corpus_counts``).
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import defaultdict

from flask import Flask, Response, abort, current_app, g, request

from common.db import get_database
from common.infra.settings import get_settings
from visualization_web import corpus_counts, dashboard_queries, queries

log = logging.getLogger(__name__)

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class RequestStats:
    """Thread-safe per-endpoint request counters and latency histograms."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.buckets: dict[str, list[int]] = {}
        self.sums: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(endpoint, method, str(status))] += 1
            counts = self.buckets.setdefault(endpoint, [0] * (len(BUCKETS) + 1))
            counts[bisect.bisect_left(BUCKETS, seconds)] += 1
            self.sums[endpoint] += seconds
            self.counts[endpoint] += 1

    def lines(self) -> list[str]:
        with self._lock:
            requests = sorted(self.requests.items())
            histograms = sorted((e, list(c), self.sums[e], self.counts[e]) for e, c in self.buckets.items())
        out = ["# HELP pp_http_requests_total HTTP requests by endpoint, method and status.",
               "# TYPE pp_http_requests_total counter"]  # fmt: skip
        out += [f'pp_http_requests_total{{endpoint="{e}",method="{m}",status="{s}"}} {n}' for (e, m, s), n in requests]
        out += ["# HELP pp_http_request_duration_seconds Request latency by endpoint.",
                "# TYPE pp_http_request_duration_seconds histogram"]  # fmt: skip
        for endpoint, counts, total, count in histograms:
            cumulative = 0
            for bound, n in zip((*BUCKETS, float("inf")), counts, strict=True):
                cumulative += n
                le = "+Inf" if bound == float("inf") else repr(bound)
                out.append(f'pp_http_request_duration_seconds_bucket{{endpoint="{endpoint}",le="{le}"}} {cumulative}')
            out.append(f'pp_http_request_duration_seconds_sum{{endpoint="{endpoint}"}} {total:.6f}')
            out.append(f'pp_http_request_duration_seconds_count{{endpoint="{endpoint}"}} {count}')
        return out


def stats() -> RequestStats:
    """This app's counters (each app, so each gunicorn worker, has its own)."""
    return current_app.extensions["pp_request_stats"]


def on_metrics_port() -> bool:
    return request.environ.get("SERVER_PORT") == str(get_settings().metrics_port)


def _port_gate() -> None:
    """404 for /metrics on the public port, and for everything else on the metrics port."""
    if (request.endpoint == "metrics") != on_metrics_port():
        abort(404)


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _record(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    if started is not None:
        endpoint = request.url_rule.endpoint if request.url_rule is not None else "unmatched"
        stats().observe(endpoint, request.method, response.status_code, time.perf_counter() - started)
    return response


def _gauge(name: str, help_text: str, samples: list[tuple[str, float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    return lines + [f"{name}{labels} {value:g}" for labels, value in samples]


def render() -> str:
    out: list[str] = []
    cassandra_up = 1
    try:
        counts = corpus_counts.current(get_database(), rejected=False)
        kinds = ("images", "faces", "personas")
        out += _gauge("pp_corpus_objects", "Stored images, faces and personas (counters kept on write).",
                      [(f'{{kind="{k}"}}', counts.values[k]) for k in kinds])  # fmt: skip
        age = counts.age()  # None: never counted exactly yet
        out += _gauge("pp_corpus_counted_age_seconds", "Seconds since the corpus counters were last counted exactly.",
                      [("", round(age, 1))] if age is not None else [])  # fmt: skip
        version = queries.active_version(get_database())
        out += _gauge("pp_active_model_version", "The active model version (absent: no model yet).",
                      [("", version)] if version is not None else [])  # fmt: skip
    except Exception as exc:  # the scrape still answers, saying what is down
        log.warning("metrics: Cassandra unavailable: %s", exc)
        cassandra_up = 0
    depths = dashboard_queries.queue_depths()
    out += _gauge("pp_queue_depth", "Messages waiting in each Celery queue.",
                  [(f'{{queue="{q}"}}', n) for q, n in depths.items() if n is not None])  # fmt: skip
    redis_up = int(all(n is not None for n in depths.values()))
    out += _gauge("pp_up", "1 when the web app reaches the dependency.",
                  [('{component="cassandra"}', cassandra_up), ('{component="redis"}', redis_up)])  # fmt: skip
    out += stats().lines()
    return "\n".join(out) + "\n"


def metrics() -> Response:
    response = Response(render(), mimetype="text/plain")
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


def register(app: Flask) -> None:
    """Time every request (registered before login checks, so refusals are counted too); serve /metrics on
    the metrics port only."""
    app.extensions["pp_request_stats"] = RequestStats()
    app.before_request(_port_gate)
    app.before_request(_start_timer)
    app.after_request(_record)
    app.add_url_rule("/metrics", endpoint="metrics", view_func=metrics, methods=["GET"])
