"""Celery beat sends the corpus reconcile every PP_CORPUS_RECONCILE_SECONDS, to a queue a trainer worker reads,
and a message it would send is one the task accepts."""

from __future__ import annotations

from common.infra import task_names
from common.infra.celery_app import celery_config
from common.infra.messages import BY_TASK, ReconcileCorpusCounts
from common.infra.settings import Settings


def test_beat_sends_the_reconcile_at_the_configured_interval():
    conf = celery_config(Settings(corpus_reconcile_seconds=900))
    [entry] = [e for e in conf["beat_schedule"].values() if e["task"] == task_names.RECONCILE_CORPUS_COUNTS]
    assert entry["schedule"] == 900
    assert entry["options"]["queue"] == ReconcileCorpusCounts.task_queue == task_names.ROUTES[entry["task"]]
    assert entry["options"]["expires"] < 900  # a reconcile that waited a whole interval is not run late
    assert BY_TASK[entry["task"]].parse(entry.get("kwargs", {})) == ReconcileCorpusCounts()
