"""Prometheus multiprocess mode: one folder of metric files per service start, summed at every scrape.

gunicorn runs several web processes and Celery's prefork pool several task processes; each keeps its
counters in memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR`` and a scrape sums the files of every process,
dead ones included, so a counter never goes back when a process is replaced. :func:`prepare` must run in the
service's first process before any metric exists (the gunicorn config; the worker entry points, through
:func:`prepare_worker`, only when the process is a Celery worker): it points
``PROMETHEUS_MULTIPROC_DIR`` at ``<PP_METRICS_DIR>/pp-metrics/<service>-<pid>``, emptied, and removes the
folders of earlier starts whose process is gone. Child processes inherit the variable.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

from common.infra.local_services.processes import pid_alive
from common.infra.settings import get_settings

log = logging.getLogger(__name__)

ENV = "PROMETHEUS_MULTIPROC_DIR"
_catalogue_loaded = False  # set by common.infra.metrics when it has made its metrics


def metrics_root() -> Path:
    return (get_settings().metrics_dir or Path(tempfile.gettempdir())) / "pp-metrics"


def prepare(service: str) -> Path:
    """Give this service start an empty metrics folder and switch prometheus_client to multiprocess mode."""
    if _catalogue_loaded:
        raise RuntimeError(f"metrics_process.prepare({service!r}) must run before common.infra.metrics is imported")
    root = metrics_root()
    root.mkdir(parents=True, exist_ok=True)
    _remove_folders_of_dead_processes(root)
    folder = root / f"{service}-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)  # a container restarted with the same pid
    folder.mkdir()
    os.environ[ENV] = str(folder)
    values = sys.modules.get("prometheus_client.values")
    if values is not None:  # imported already (by a library): metrics made from now on use the files
        values.ValueClass = values.get_value_class()  # type: ignore[attr-defined]
    atexit.register(shutil.rmtree, folder, True)
    return folder


def celery_worker_command(argv: list[str] | None = None) -> bool:
    """True in the main process of ``celery ... worker`` (not beat, Flower, a shell or a test importing the app)."""
    argv = sys.argv if argv is None else argv
    if not argv:
        return False
    program = Path(argv[0])
    return "celery" in (program.name, program.parent.name) and "worker" in argv[1:]  # `celery` or `-m celery`


def prepare_worker(service: str) -> Path | None:
    """:func:`prepare` when this process starts a Celery worker; the worker entry points call it first thing."""
    return prepare(service) if celery_worker_command() else None


def _remove_folders_of_dead_processes(root: Path) -> None:
    for folder in root.iterdir():
        pid = folder.name.rpartition("-")[2]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def catalogue_loaded() -> None:
    """Called by the catalogue once its metrics exist: from then on it is too late to prepare."""
    global _catalogue_loaded
    _catalogue_loaded = True


def multiprocess() -> bool:
    return bool(os.environ.get(ENV))


def mark_process_dead(pid: int) -> None:
    """A finished process's live gauges stop counting (its counters stay in the sum)."""
    if multiprocess():
        from prometheus_client import multiprocess as prometheus_multiprocess

        prometheus_multiprocess.mark_process_dead(pid)
