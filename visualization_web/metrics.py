"""`/metrics`: Prometheus text from prometheus_client, numbers only (no names, paths or secrets), on its own port.

``/metrics`` is served only to requests that arrived on ``PP_METRICS_PORT`` (gunicorn binds it as a second
address: ``--bind 0.0.0.0:8000 --bind 0.0.0.0:9464``), and that port serves nothing else. The Service and
the ingress route only the public port, so the internals stay inside the cluster, where Prometheus scrapes
the pods directly. The port is taken from ``SERVER_PORT``, which gunicorn sets from the listening socket
(not from the Host header) for TCP addresses; do not bind the metrics port to a unix socket.

Requests are counted by route template, method and status, with a latency histogram
(``common.infra.metrics``). gunicorn's processes write them to files that every scrape sums
(``common.infra.metrics_process``, prepared by ``gunicorn_conf``), so whichever process answers, the counters
are the pod's and never go back. The state of the system is read at scrape time (:class:`StateCollector`):
corpus counts (counters kept on write, ``visualization_web.corpus_counts``), queue depths (Redis list
lengths), the active version, each retained version's macro-F1 and accuracy, and the newest full pass.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from flask import Flask, Response, abort, g, request
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from common.db import get_database
from common.infra import metrics as catalogue
from common.infra.settings import get_settings
from common.repositories import models as models_repo
from visualization_web import corpus_counts, dashboard_queries, queries

log = logging.getLogger(__name__)

MODEL_VERSIONS = 20  # the newest versions whose quality /metrics reports (PP_MODEL_RETENTION_VERSIONS' default)


def _gauge(name: str, help_text: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, labels=labels)


class StateCollector(Collector):
    """Gauges read at scrape time from Cassandra and Redis; a dependency that is down shows as ``pp_up`` 0."""

    def collect(self) -> Iterator[Metric]:
        cassandra_up = 1
        try:
            yield from self._cassandra()
        except Exception as exc:  # the scrape still answers, saying what is down
            log.warning("metrics: Cassandra unavailable: %s", exc)
            cassandra_up = 0
        depths = dashboard_queries.queue_depths()
        queue = _gauge("pp_queue_depth", "Messages waiting in each Celery queue (every priority).", ["queue"])
        for name, depth in depths.items():
            if depth is not None:
                queue.add_metric([name], depth)
        yield queue
        redis_up = int(all(n is not None for n in depths.values()))
        up = _gauge("pp_up", "1 when the web app reaches the dependency.", ["component"])
        up.add_metric(["cassandra"], cassandra_up)
        up.add_metric(["redis"], redis_up)
        yield up

    def _cassandra(self) -> Iterator[Metric]:
        db = get_database()
        counts = corpus_counts.current(db, rejected=False)
        objects = _gauge("pp_corpus_objects", "Stored images, faces and personas (counters kept on write).", ["kind"])
        for kind in ("images", "faces", "personas"):
            objects.add_metric([kind], counts.values[kind])
        age = counts.age()  # None: never counted exactly yet
        counted = _gauge("pp_corpus_counted_age_seconds", "Seconds since the corpus counters were counted exactly.")
        if age is not None:
            counted.add_metric([], round(age, 1))
        version = queries.active_version(db)
        active = _gauge("pp_active_model_version", "The active model version (absent: no model yet).")
        if version is not None:
            active.add_metric([], version)
        f1 = _gauge("pp_model_macro_f1", "Macro-F1 of each retained model version on its held-out sample.",
                    ["version", "status"])  # fmt: skip
        accuracy = _gauge("pp_model_accuracy", "Accuracy of each retained model version on its held-out sample.",
                          ["version", "status"])  # fmt: skip
        for mv in models_repo.list_versions(db, limit=MODEL_VERSIONS):
            for family, key in ((f1, "macro_f1"), (accuracy, "accuracy")):
                value = (mv.metrics or {}).get(key)
                if isinstance(value, int | float):
                    family.add_metric([str(mv.version), mv.status], value)
        yield from (objects, counted, active, f1, accuracy)
        yield from _full_pass(version, counts.values["faces"])


def _full_pass(version: int | None, faces: int) -> Iterator[Metric]:
    """The newest full reclassification pass (absent: no model, none in the last day, or Redis is down)."""
    progress = dashboard_queries.reclassify_pass(version)
    shards = _gauge("pp_reclassify_pass_shards", "Shards of the newest full pass, by state (planned, done).",
                    ["state"])  # fmt: skip
    predicted = _gauge("pp_reclassify_pass_faces_predicted", "Faces the newest full pass predicted so far.")
    pending = _gauge("pp_reclassify_pass_faces_pending",
                     "Faces the newest full pass has still to predict (0 once it finished).")  # fmt: skip
    changed = _gauge("pp_reclassify_pass_decisions_changed",
                     "Faces whose decision (persona or unknown) the newest full pass changed so far.")  # fmt: skip
    if progress is not None:
        shards.add_metric(["planned"], progress["shards_total"])
        shards.add_metric(["done"], progress["shards_done"])
        predicted.add_metric([], progress["faces_predicted"])
        finished = progress["finished_at"] is not None
        pending.add_metric([], 0 if finished else max(0, faces - int(progress["faces_predicted"])))
        if "decisions_changed" in progress:
            changed.add_metric([], progress["decisions_changed"])
    yield from (shards, predicted, pending, changed)


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
    if started is not None and request.endpoint != "metrics":
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        catalogue.record_request(route, request.method, response.status_code, time.perf_counter() - started)
    return response


def render() -> bytes:
    """This service's counters and histograms (every process's), then the state gauges."""
    state = CollectorRegistry(auto_describe=False)
    state.register(StateCollector())
    return generate_latest(catalogue.scrape_registry()) + generate_latest(state)


def metrics() -> Response:
    response = Response(render())
    response.headers["Content-Type"] = CONTENT_TYPE_PLAIN_0_0_4
    return response


def register(app: Flask) -> None:
    """Time every request (registered before login checks, so refusals are counted too); serve /metrics on
    the metrics port only."""
    app.before_request(_port_gate)
    app.before_request(_start_timer)
    app.after_request(_record)
    app.add_url_rule("/metrics", endpoint="metrics", view_func=metrics, methods=["GET"])
