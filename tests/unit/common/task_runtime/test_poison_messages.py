"""Which queue items are dropped as "not a task", and that the broker URL keeps its meaning."""

from __future__ import annotations

import base64
import json

import pytest
from kombu import Connection

from common.infra import task_names
from common.infra.celery_app import celery_app
from common.task_runtime import poison_messages
from common.task_runtime.poison_messages import problem_with


def real_task_message(name: str = task_names.INGEST_JOB, **kwargs) -> dict:
    """The envelope Celery writes for a task (kombu's in-memory transport keeps the same dict Redis stores)."""
    with Connection("memory://") as conn:
        celery_app.send_task(name, kwargs=kwargs, connection=conn)
        return conn.default_channel._get(task_names.ROUTES.get(name, "ingest"))


def envelope(message: dict, **changes) -> str:
    return json.dumps({**message, **changes})


def test_a_task_message_as_celery_sends_it_is_accepted():
    message = real_task_message(job_id="abc")
    assert problem_with(json.dumps(message)) is None
    assert problem_with(json.dumps(message).encode()) is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json at all", "not JSON"),
        (b"\xff\xfe\x00binary", "not UTF-8"),
        (b"[1, 2, 3]", "not a message envelope (a JSON list)"),
        (b'"a string"', "not a message envelope (a JSON str)"),
        (b'{"properties": []}', "no properties.delivery_tag"),
        (b'{"properties": {"delivery_tag": ["unhashable"]}}', "no properties.delivery_tag"),
    ],
)
def test_items_that_are_not_envelopes_are_refused_with_the_reason(raw, reason):
    assert reason in problem_with(raw)


def test_envelopes_with_a_bad_body_or_no_task_headers_are_refused():
    message = real_task_message(job_id="abc")
    not_json = base64.b64encode(b"\x00garbage{").decode()
    assert "body is not" in problem_with(envelope(message, body=not_json))
    assert "body is not JSON" in problem_with(envelope(message, body="!!!"))
    assert "[args, kwargs, embed]" in problem_with(envelope(message, body=base64.b64encode(b"{}").decode()))
    assert "no task headers" in problem_with(envelope(message, headers={}))
    assert "no task headers" in problem_with(envelope(message, headers=None))
    assert "content type" in problem_with(envelope(message, **{"content-type": "application/x-python-serialize"}))


def test_control_replies_need_only_be_envelopes():
    reply = {
        "body": base64.b64encode(b'{"worker@host": {"ok": "pong"}}').decode(), "content-encoding": "utf-8",
        "content-type": "application/json", "headers": {"ticket": "t-1", "clock": 3},
        "properties": {"delivery_tag": "d-1", "body_encoding": "base64", "priority": 0,
                       "delivery_info": {"exchange": "reply.celery.pidbox", "routing_key": "r"}},
    }  # fmt: skip
    assert problem_with(json.dumps(reply), task_queue=False) is None
    assert "no task headers" in problem_with(json.dumps(reply), task_queue=True)
    assert "not JSON" in problem_with(b"junk", task_queue=False)


def test_the_preview_is_the_first_200_bytes_as_printable_text():
    assert poison_messages.preview(b"x" * 500) == "x" * 200
    assert poison_messages.preview(b"\xff\x00ok") == "\\xff\x00ok"


def test_redis_urls_use_the_poison_safe_transport_and_rediss_keeps_tls():
    poison_messages.install()
    assert Connection("redis://127.0.0.1:6379/5").get_transport_cls() is poison_messages.Transport
    secure = Connection("rediss://:key@cache.example:10000/0")
    assert secure.get_transport_cls() is poison_messages.Transport
    assert secure.ssl, "kombu's rediss default (TLS on) must still apply"


@pytest.mark.parametrize(
    ("module", "installed"),
    [("common.infra.celery_app", False), ("input_worker.app", True), ("trainer_worker.app", True)],
)
def test_the_worker_entry_points_install_the_filter_and_importing_the_celery_app_does_not(module, installed):
    import subprocess
    import sys

    probe = f"import {module}; from kombu import Connection; print(Connection('redis://').get_transport_cls())"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert ("common.task_runtime.poison_messages.Transport" in out) is installed, out
