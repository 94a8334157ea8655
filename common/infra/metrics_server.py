"""A worker's ``/metrics`` port: prometheus_client's HTTP server in the worker's main process.

It serves the sum over the worker's processes (``metrics.scrape_registry``) on ``PP_WORKER_METRICS_PORT``
(0: none). A port already taken is logged and the worker goes on: metrics never stop the work.
"""

from __future__ import annotations

import logging

from prometheus_client import start_http_server

from common.infra import metrics

log = logging.getLogger(__name__)


def serve(port: int, addr: str = "0.0.0.0") -> bool:
    """Start serving in a daemon thread; False when ``port`` is 0 or cannot be bound."""
    if not port:
        return False
    try:
        start_http_server(port, addr=addr, registry=metrics.scrape_registry())
    except OSError as exc:
        log.error("metrics: cannot serve on port %d (%s); this worker's metrics are not exported", port, exc)
        return False
    log.info("metrics: serving /metrics on port %d", port)
    return True
