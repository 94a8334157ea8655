"""The one Celery app: Redis broker, four queues (with priorities), JSON only, at-least-once delivery.

Worker packages import this app and register their tasks on it
(``input_worker.app``, ``trainer_worker.app``); the web app only sends typed messages
(``common.infra.messages``). Importing it changes nothing else in the process: the worker entry
points install the poison-message filter themselves (``common.task_runtime.poison_messages.install``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from celery import Celery, signals
from kombu import Queue

from common.infra import task_names
from common.infra.settings import Settings, get_settings

PRIORITY_STEPS = (0, 3, 6, 9)
PRIORITY_SEPARATOR = "\x06\x16"  # kombu's Redis transport: between a queue's name and a priority step


def queue_lists(queue: str) -> list[str]:
    """The Redis lists holding the messages of ``queue``, one per priority step (queue depth: their sum)."""
    return [queue if step == 0 else f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS]


def celery_config(settings: Settings) -> dict:
    transport = {
        # One visibility timeout everywhere Celery reads it: longer than any task or countdown.
        "visibility_timeout": settings.celery_visibility_timeout,
        # Every worker sweeps for abandoned (unacked, past the visibility timeout) messages this often;
        # kombu's default sweeps every 10 x 10 s, which adds up to 100 s to every redelivery after a crash.
        "unacked_restore_interval": min(60, max(5, settings.celery_visibility_timeout // 6)),
        "unacked_restore_throttle": 1,
        "socket_keepalive": True,
        "health_check_interval": 25,
        # Priorities on one queue: a message of priority p goes to the list "<queue>\x06\x16<step>" (the
        # base list for 0) and a worker pops the lists in this order, so priority 0 (the default: new faces'
        # predictions) is served before 9 (full-pass shards, ``messages.LOW_PRIORITY``). kombu's default
        # steps, spelled out because the reclassify queue relies on them.
        "priority_steps": list(PRIORITY_STEPS),
    }
    return {
        "broker_url": settings.redis_url,
        "broker_transport_options": transport,
        "result_backend": None,
        "task_ignore_result": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "event_serializer": "json",
        "task_queues": [Queue(name, routing_key=name) for name in task_names.QUEUES],
        "task_default_queue": "ingest",
        "task_routes": {name: {"queue": queue} for name, queue in task_names.ROUTES.items()},
        # At least once: ack after the work is done, requeue if the worker dies.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "task_time_limit": settings.celery_task_time_limit,
        "task_soft_time_limit": max(1, settings.celery_task_time_limit - 30),
        # Task events cost a Redis publish per task state; Flower enables them on every worker while it runs
        # (its --enable_events, on by default), so without Flower nobody pays for events nobody reads.
        "worker_send_task_events": settings.celery_task_events,
        "task_send_sent_event": settings.celery_task_events,
        "worker_hijack_root_logger": False,
        "beat_schedule": {
            "check-events-for-lost-retrain-triggers": {
                "task": task_names.CHECK_EVENTS,
                "schedule": 60.0,
                "options": {"queue": "retrain", "expires": 55},
            },
            "reconcile-corpus-counters": {  # trainer_worker.corpus_reconcile
                "task": task_names.RECONCILE_CORPUS_COUNTS,
                "schedule": settings.corpus_reconcile_seconds,
                "options": {"queue": "reclassify", "expires": max(30.0, settings.corpus_reconcile_seconds * 0.9)},
            },
            "audit-pass-when-due": {  # trainer_worker.audit: a full pass every PP_AUDIT_PASS_HOURS
                "task": task_names.AUDIT_PASS,
                "schedule": 600.0,
                "options": {"queue": "reclassify", "expires": 540},
            },
        },
        "timezone": "UTC",
    }


def make_celery(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    app = Celery("persona_pipeline")
    app.conf.update(celery_config(settings))

    @app.task(name=task_names.PING)
    def ping() -> str:
        """Answers "pong" to ``messages.Ping`` (a message without fields)."""
        return "pong"

    return app


celery_app = make_celery()


def touch_heartbeat(path: Path | None = None) -> None:
    """Liveness for Kubernetes: the worker touches this file (``PP_HEARTBEAT_FILE``); the probe checks its age."""
    path = path or get_settings().heartbeat_file
    try:
        path.touch()
        os.utime(path, (time.time(), time.time()))
    except OSError:
        pass


@signals.worker_ready.connect
def _on_ready(**_kwargs) -> None:
    touch_heartbeat()


@signals.heartbeat_sent.connect
def _on_heartbeat(**_kwargs) -> None:
    touch_heartbeat()
