"""Queue items that are not Celery tasks ("poison messages"): dropped and recorded, never a worker crash.

kombu's Redis transport turns each item it pops off a queue into a message inside the worker's
consumer loop (``loads(bytes_to_str(item))`` in ``Channel._brpop_read`` and ``_get``, then
``Message(payload)``); an item that is not a JSON message envelope raises there and stops the
whole worker (celery/celery#1113). Celery itself only logs, without a record, bodies it cannot
decode and envelopes without task headers.

:class:`Transport` (installed for ``redis://`` and ``rediss://`` broker URLs by :func:`install`, which
the worker entry points ``input_worker.app`` and ``trainer_worker.app`` call; importing the Celery app
does not) checks every popped item first. One that is not a Celery protocol 2 task message (see
:func:`problem_with`) is dropped: BRPOP/RPOP has already removed it from Redis, so it is never
redelivered. It is logged at WARNING with its queue and first 200 bytes and recorded as a
``queue.bad_message`` event in the audit log (web: Events, kind ``queue.``). The event is written by
the ``RECORD_BAD_MESSAGE`` task (:func:`record_bad_message`) sent to the same queue, so the Cassandra
write happens in a pool process (driver sessions must not cross a fork) and retries like any task.
Messages Celery rejects later (unknown task name, invalid task) are recorded the same way.
Its channel also keeps unacknowledged messages safe when the broker goes away (``common.infra.broker_qos``).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import logging
import os
import socket
from datetime import UTC, datetime

from cassandra.util import uuid_from_time
from celery import signals
from kombu import transport as kombu_transports
from kombu.transport import redis as kombu_redis
from kombu.utils.encoding import bytes_to_str

from common.db import Database, get_database
from common.infra import broker_qos, messages, metrics, task_names
from common.infra.celery_app import celery_app
from common.infra.task_retry import retry_options
from common.repositories import events

log = logging.getLogger(__name__)

EVENT_KIND = "queue.bad_message"
PREVIEW_BYTES = 200


def problem_with(raw: bytes | str, task_queue: bool = True) -> str | None:
    """Why ``raw`` (a queue item) is not a Celery task message this app can run; None when it is one.

    Items of other queues (control replies on ``*.reply.celery.pidbox``) need only be kombu envelopes.
    """
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            return "not UTF-8 text"
    try:
        envelope = json.loads(raw)
    except ValueError as exc:
        return f"not JSON ({exc})"
    if not isinstance(envelope, dict):
        return f"not a message envelope (a JSON {type(envelope).__name__})"
    properties = envelope.get("properties")
    if not isinstance(properties, dict) or not isinstance(properties.get("delivery_tag"), str | int):
        return "envelope has no properties.delivery_tag"
    if not isinstance(properties.get("delivery_info"), dict):
        return "envelope has no properties.delivery_info"
    if not task_queue:
        return None
    headers = envelope.get("headers")
    if not isinstance(headers, dict) or not isinstance(headers.get("task"), str) or not headers.get("id"):
        return "no task headers (task, id): not a Celery protocol 2 message"
    if envelope.get("content-type") != "application/json":
        return f"content type {envelope.get('content-type')!r} is not application/json"
    return _body_problem(envelope.get("body"), properties.get("body_encoding"))


def _body_problem(body: object, encoding: object) -> str | None:
    try:
        if encoding == "base64":
            body = base64.b64decode(body).decode("utf-8")  # type: ignore[arg-type]
        decoded = json.loads(body)  # type: ignore[arg-type]
    except UnicodeDecodeError:
        return "body is not UTF-8 text"
    except (TypeError, ValueError, binascii.Error) as exc:
        return f"body is not JSON ({exc})"
    if not (isinstance(decoded, list) and len(decoded) == 3 and isinstance(decoded[0], list)
            and isinstance(decoded[1], dict)):  # fmt: skip
        return "body is not [args, kwargs, embed]"
    return None


def preview(raw: bytes | str) -> str:
    """The first PREVIEW_BYTES bytes as printable text (undecodable bytes escaped)."""
    data = raw.encode("utf-8", "backslashreplace") if isinstance(raw, str) else bytes(raw)
    return data[:PREVIEW_BYTES].decode("utf-8", "backslashreplace")


def drop(queue: str, raw: bytes | str, reason: str) -> None:
    """Log a dropped message and send the task that records it (task queues only: a worker consumes those);
    never raises (runs in the consumer loop)."""
    data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else bytes(raw)
    shown = preview(data)
    log.warning("dropped a message from queue %r that is not a task (%s; %d bytes): %r",
                queue, reason, len(data), shown)  # fmt: skip
    metrics.record_poison_message(queue, reason)
    if queue not in task_names.QUEUES:
        return
    fields = {
        "queue": queue, "reason": reason, "preview": shown, "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(), "dropped_at": datetime.now(UTC).isoformat(),
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }  # fmt: skip
    try:
        messages.send(messages.RecordBadMessage(**fields), celery_app.send_task)
    except Exception:
        log.exception("could not send the record of the message dropped from queue %r", queue)


def record(db: Database, queue: str, reason: str, preview: str, size: int, sha256: str, dropped_at: str,
           worker: str = "") -> events.Event:  # fmt: skip
    """The ``queue.bad_message`` audit event; its id comes from the drop time and the bytes (redelivery rewrites it)."""
    at = datetime.fromisoformat(dropped_at)
    event_id = uuid_from_time(at, node=int(sha256[:12], 16), clock_seq=int(sha256[12:16], 16) & 0x3FFF)
    payload = {"queue": queue, "reason": reason, "preview": preview, "size": size, "sha256": sha256,
               "worker": worker}  # fmt: skip
    return events.record(db, EVENT_KIND, "system", queue, payload, event_id=event_id)


@celery_app.task(name=task_names.RECORD_BAD_MESSAGE, **retry_options())
def record_bad_message(**kwargs: object) -> None:
    """Writes the record of a dropped message in a pool process (see :func:`drop`). A record that is itself
    invalid is logged and dropped, never recorded again (no loop of records)."""
    try:
        message = messages.RecordBadMessage.parse(kwargs)
    except messages.InvalidMessage as exc:
        log.warning("dropped an invalid record of a bad message (not recorded again): %s", exc)
        return
    record(get_database(), message.queue, message.reason, message.preview, message.size, message.sha256,
           message.dropped_at, message.worker)  # fmt: skip


def _accept(queue_key: bytes | str, item: bytes | str | None) -> bool:
    """True when ``item`` popped off ``queue_key`` may go on to kombu; otherwise it is dropped here."""
    if item is None:
        return True
    queue = bytes_to_str(queue_key).rsplit(kombu_redis.Channel.sep, 1)[0]
    reason = problem_with(item, task_queue=queue in task_names.QUEUES)
    if reason is None:
        return True
    drop(queue, item, reason)
    return False


class _PoisonFilter:
    """Mixed into the channel's redis client: a popped poison item reads as "nothing popped"."""

    def parse_response(self, connection, command_name, **options):
        response = super().parse_response(connection, command_name, **options)
        if command_name == "BRPOP" and response and not _accept(response[0], response[1]):
            return None  # kombu's _brpop_read raises Empty, as on a BRPOP timeout
        return response

    def rpop(self, name, count=None):
        item = super().rpop(name, count)
        if count is None and not _accept(name, item):
            return None
        return item


class Channel(kombu_redis.Channel):
    QoS = broker_qos.QoS  # and no crash when the broker goes away with messages unacknowledged

    def _get_client(self):
        client = super()._get_client()
        if isinstance(client, functools.partial):  # global_keyprefix: a partial of PrefixedStrictRedis
            return functools.partial(_filtered(client.func), *client.args, **client.keywords)
        return _filtered(client)


@functools.cache
def _filtered(client_cls: type) -> type:
    return type(f"PoisonFiltered{client_cls.__name__}", (_PoisonFilter, client_cls), {})


class Transport(kombu_redis.Transport):
    Channel = Channel


def install() -> None:
    """Make ``redis://`` and ``rediss://`` broker URLs use :class:`Transport` in this process.

    The URL scheme stays the transport name, so kombu's handling of ``rediss`` (TLS) is unchanged.
    """
    for scheme in ("redis", "rediss"):
        kombu_transports.TRANSPORT_ALIASES[scheme] = f"{__name__}:Transport"
        kombu_transports._transport_cache.pop(scheme, None)


@signals.task_unknown.connect
def _on_unknown_task(message=None, name=None, **_kwargs) -> None:
    _drop_rejected(message, f"unknown task {name!r}")


@signals.task_rejected.connect
def _on_rejected(message=None, exc=None, **_kwargs) -> None:
    _drop_rejected(message, f"rejected by Celery: {exc!r}" if exc else "rejected by Celery: not a task message")


def _drop_rejected(message, reason: str) -> None:
    if message is None:
        return
    info = message.delivery_info if isinstance(message.delivery_info, dict) else {}
    drop(str(info.get("routing_key") or "?"), message.body or b"", reason)
