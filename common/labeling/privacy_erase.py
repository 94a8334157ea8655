"""A privacy erase reaches every copy of the erased faces outside their own rows: models, review queues,
the audit log, Redis (rendered pages, task payloads), and tasks running at that moment.

:func:`common.labeling.actions.delete_persona` with ``erase_faces`` deletes the images, crops, faces, labels and
predictions; this module removes what is left elsewhere:

* model versions holding an erased embedding (:mod:`common.classifier.erasure`);
* the faces' rows in every review queue, current or superseded (``predictions_by_persona``);
* the face and image ids named in audit events (replaced by "erased");
* rendered pages in the Redis page cache (they show crops and face ids);
* queued or delivered-but-unacknowledged task messages naming an erased face (RECLASSIFY_BATCH carries
  face and image ids; full-pass shards carry only token ranges); they are removed, and one reclassification
  of every face is requested so the other faces of a removed batch are predicted again;
* a reclassify batch already running: the erased faces are recorded in Redis as SHA-256 digests (never
  the ids) for the visibility timeout, and :func:`erased_among` lets the batch skip them.

The whole erase holds the retrain lock, so no training reads the faces while they are being erased.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import redis

from common.infra.settings import get_settings
from common.labeling.retrain_trigger import LOCK_KEY
from common.repositories import read_model

log = logging.getLogger(__name__)

TOMBSTONES_KEY = "erased:faces"
UNACKED_KEY, UNACKED_INDEX_KEY = "unacked", "unacked_index"  # kombu's Redis transport
LOCK_WAIT_SECONDS = 30.0
LOCK_SECONDS = 600
_HEX_TOKEN = re.compile(rb"[0-9a-f]{32,64}")


class TrainingRunning(RuntimeError):
    """The retrain lock stayed taken: the erase did not start (nothing changed); try again shortly."""


@contextmanager
def training_paused(client: redis.Redis) -> Iterator[None]:
    """Hold the trainer's lock (``retrain:lock``) for the erase: no training reads the faces meanwhile."""
    lock = client.lock(LOCK_KEY, timeout=LOCK_SECONDS, blocking=True, blocking_timeout=LOCK_WAIT_SECONDS,
                       thread_local=False)  # fmt: skip
    if not lock.acquire():
        raise TrainingRunning("a training is running: the erase did not start; try again in a minute")
    try:
        yield
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            log.warning("the retrain lock lapsed during a privacy erase")


def digest(face_id: str) -> str:
    return hashlib.sha256(f"erased-face:{face_id}".encode()).hexdigest()


def record_tombstones(client: redis.Redis, face_ids: Iterable[str]) -> None:
    digests = [digest(f) for f in face_ids]
    if digests:
        settings = get_settings()
        client.sadd(TOMBSTONES_KEY, *digests)
        client.expire(TOMBSTONES_KEY, settings.celery_visibility_timeout + settings.celery_task_time_limit)


def erased_among(client: redis.Redis, face_ids: list[str]) -> set[str]:
    """The faces of ``face_ids`` erased in the last visibility timeout (a running batch must not predict them)."""
    if not face_ids:
        return set()
    flags = client.smismember(TOMBSTONES_KEY, [digest(f) for f in face_ids])
    return {f for f, flag in zip(face_ids, flags, strict=True) if flag}


def drop_page_cache(client: redis.Redis, keyspace: str) -> int:
    keys = list(client.scan_iter(match=read_model.PAGE_CACHE_KEY.format(keyspace=keyspace) + "*", count=500))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])
    return len(keys)


def _names(raw: bytes, ids: set[bytes]) -> bool:
    """Whether a kombu message (JSON envelope, body usually base64) names one of ``ids``."""
    texts = [raw]
    try:
        envelope = json.loads(raw)
        if isinstance(envelope, list) and envelope:  # the unacked hash: [message, exchange, routing key]
            envelope = envelope[0]
        body = envelope.get("body") if isinstance(envelope, dict) else None
        if isinstance(body, str):
            texts.append(base64.b64decode(body, validate=False) if _is_base64(envelope) else body.encode())
    except (ValueError, TypeError, AttributeError):
        pass
    return any(token in ids for text in texts for token in _HEX_TOKEN.findall(text))


def _is_base64(envelope: dict) -> bool:
    return (envelope.get("properties") or {}).get("body_encoding") == "base64"


def drop_pending_tasks(client: redis.Redis, face_ids: Iterable[str]) -> int:
    """Remove queued and unacknowledged task messages that name an erased face; returns how many."""
    ids = {f.encode() for f in face_ids}
    if not ids:
        return 0
    dropped = 0
    for key in client.scan_iter(count=500, _type="list"):
        for raw in client.lrange(key, 0, -1):
            if _names(raw, ids):
                dropped += client.lrem(key, 1, raw)
    for tag, raw in client.hgetall(UNACKED_KEY).items():
        if _names(raw, ids):
            client.hdel(UNACKED_KEY, tag)
            client.zrem(UNACKED_INDEX_KEY, tag)
            dropped += 1
    if dropped:
        log.warning("privacy erase: %d pending task messages naming erased faces removed", dropped)
    return dropped
