"""Celery entry point of the input worker: `celery -A input_worker.app worker -Q ingest,extract`.

Loading it installs the poison-message filter (queue items that are not tasks are dropped and recorded,
never a worker crash) before the worker opens its broker connection,
the task metrics and the worker's metrics port (``PP_WORKER_METRICS_PORT``), and the log format with the
ids of the running task (``PP_LOG_FORMAT``).
"""

from common.infra import metrics_process

metrics_process.prepare_worker("input-worker")  # first: this start's metric files

from common.infra.celery_app import celery_app as app  # noqa: E402
from common.task_runtime import poison_messages, task_logging, task_metrics  # noqa: E402

poison_messages.install()
task_metrics.install()
task_logging.install()
app.autodiscover_tasks(["input_worker"], related_name="tasks", force=True)

__all__ = ["app"]
