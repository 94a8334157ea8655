"""Real workers meet queue items that are not tasks: they drop and record them, and keep working."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime

import pytest

from common.infra import task_names
from common.infra.celery_app import celery_app
from common.ingest.requests import start_ingest
from common.operations.health import check_workers
from common.repositories import events, jobs
from common.task_runtime import poison_messages

pytestmark = pytest.mark.integration


def _envelope(body: bytes, headers: dict | None) -> bytes:
    return json.dumps({
        "body": base64.b64encode(body).decode(), "content-encoding": "utf-8", "content-type": "application/json",
        "headers": headers,
        "properties": {"delivery_tag": str(uuid.uuid4()), "body_encoding": "base64", "priority": 0,
                       "delivery_info": {"exchange": "", "routing_key": "ingest"}},
    }).encode()  # fmt: skip


GARBAGE = {
    "not JSON": b"not json at all",
    "not UTF-8": b"\xff\xfe\x00 binary junk",
    "a JSON list": b"[1, 2, 3]",
    "an envelope without properties": b'{"body": "", "headers": {"task": "common.ping"}}',
    "an envelope whose body is not JSON": _envelope(b"\x00garbage{", {"task": task_names.PING, "id": "x"}),
    "an envelope without task headers": _envelope(b"[[], {}, {}]", {}),
    "an unknown task": _envelope(b"[[], {}, {}]", {"task": "no.such.task", "id": "y"}),
}


def _bad_message_events(db, expected: int, timeout: float = 60.0) -> list[events.Event]:
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in events.recent(db, limit=500, days=1) if e.kind == poison_messages.EVENT_KIND]
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def _wait_for(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout}s")
        time.sleep(0.3)
    return result


def test_the_input_worker_drops_and_records_garbage_and_runs_the_task_queued_behind_it(
    clean_tables, redis_client, start_worker, tmp_path
):
    db = clean_tables
    redis_client.delete("ingest", "unacked", "unacked_index")
    for raw in GARBAGE.values():
        redis_client.lpush("ingest", raw)
    job_id = start_ingest(db, str(tmp_path / "no-such-folder"), actor="test")  # queued behind the garbage
    assert redis_client.llen("ingest") == len(GARBAGE) + 1

    worker = start_worker("input_worker.app", "ingest")
    pid = worker.pid

    job = _wait_for(lambda: (j := jobs.get(db, job_id)) and j.status == "failed" and j, what="the valid job")
    assert "no such folder" in job.error
    recorded = _bad_message_events(db, len(GARBAGE))
    assert worker.proc.poll() is None and worker.pid == pid, "the worker kept running"
    assert redis_client.llen("ingest") == 0 and redis_client.hlen("unacked") == 0, "nothing left to redeliver"

    assert len(recorded) == len(GARBAGE)
    by_preview = {e.payload["preview"]: e for e in recorded}
    for shape, raw in GARBAGE.items():
        shown = poison_messages.preview(raw if b"no.such.task" not in raw else b"[[], {}, {}]")
        assert shown in by_preview, shape
        event = by_preview[shown]
        assert event.subject == "ingest" and event.payload["queue"] == "ingest" and event.payload["reason"]
    assert "unknown task 'no.such.task'" in by_preview["[[], {}, {}]"].payload["reason"]
    log = worker.log_path.read_text()
    assert log.count("WARNING/MainProcess] dropped a message from queue 'ingest'") == len(GARBAGE)
    assert "Unrecoverable error" not in log
    assert worker.name in check_workers(timeout=5.0), "control replies (not tasks) still get through"


def test_the_trainer_worker_survives_garbage_on_its_queue(clean_tables, redis_client, start_worker):
    db = clean_tables
    redis_client.delete("reclassify")
    worker = start_worker("trainer_worker.app", "reclassify")
    redis_client.lpush("reclassify", b"{not json")
    ping = celery_app.send_task(task_names.PING, queue="reclassify")

    recorded = _bad_message_events(db, 1)
    _wait_for(lambda: f"common.ping[{ping.id}] succeeded" in worker.log_path.read_text(), what="the ping")
    assert worker.proc.poll() is None
    assert [(e.subject, e.payload["preview"]) for e in recorded] == [("reclassify", "{not json")]
    assert "not JSON" in recorded[0].payload["reason"]


def test_recording_the_same_drop_twice_writes_one_event(clean_tables):
    db = clean_tables
    fields = {"queue": "extract", "reason": "not JSON", "preview": "oops", "size": 4,
              "sha256": "ab" * 32, "dropped_at": datetime.now(UTC).isoformat(), "worker": "w:1"}  # fmt: skip
    first = poison_messages.record(db, **fields)
    again = poison_messages.record(db, **fields)  # a redelivered RECORD_BAD_MESSAGE task
    assert first.event_id == again.event_id
    assert [e.payload["preview"] for e in events.recent(db, days=1)] == ["oops"]
