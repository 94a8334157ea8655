"""gunicorn's configuration, from the settings object: ``gunicorn -c python:visualization_web.gunicorn_conf
--bind HOST:PORT 'visualization_web.app:create_app()'`` (the Dockerfile, Procfile, compose file and chart all
run that; only the address differs; ``benchmarks/web.py`` too). It also prepares the metric files that the
web processes share (``common.infra.metrics_process``) and the log format (``PP_LOG_FORMAT``).

``PP_WEB_WORKER_CLASS``: ``gthread`` (the default) runs ``PP_WEB_THREADS`` threads per process and keeps
connections alive; a connection stays with the process that accepted it. ``sync`` serves one request at a
time per process and closes the connection after it, so each request goes to an idle process; it reads a
slow client's request and writes its response one at a time, so it needs a buffering proxy in front (the
AKS ingress is one). docs/web.md compares the two under load.
"""

from common.infra import logging_setup, metrics_process
from common.infra.settings import LogFormat, WebWorkerClass, get_settings

_settings = get_settings()
# Before any web process exists: the metric files of this start, which every scrape of /metrics sums
metrics_process.prepare("web")

workers = _settings.web_workers
worker_class = str(_settings.web_worker_class)
# 1 for sync: gunicorn quietly runs gthread instead when a sync worker is given more than one thread
threads = _settings.web_threads if _settings.web_worker_class is WebWorkerClass.gthread else 1
timeout = _settings.web_timeout  # sync: a request's deadline; gthread: the worker's heartbeat
graceful_timeout = 20  # in-flight requests finish on SIGTERM, inside the pods' 30 s grace period
keepalive = 5  # gthread: idle seconds before a kept-alive connection is closed
# JSON logs: gunicorn's lines and the app's in one format (text: gunicorn's own), and one line per request
# from the app (with its route, status and ids) instead of gunicorn's access log
_json = _settings.log_format is LogFormat.json
logconfig_dict = logging_setup.gunicorn_config(LogFormat.json) if _json else {}
accesslog = None if _json else "-"


def child_exit(_server: object, worker: object) -> None:
    """A web process ended: its live gauges leave the sum (its counters stay: they never go back)."""
    metrics_process.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
