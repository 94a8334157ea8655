"""Corpus counts (the dashboard's tiles, /metrics' ``pp_corpus_objects``): counted off the request path,
one count shared by every web process.

Counting reads whole tables (``COUNT(*)`` of images and faces, a scan of ``predictions_by_face``, every
persona's labels): on a 100,000-face corpus 5 s here, and on Cosmos DB request units in proportion to the
rows. So only the first view of a keyspace waits for a count. The last count is kept in Redis with the time
it was made; a view that finds it older than ``PP_CORPUS_COUNTS_SECONDS`` starts the next one in a
background thread of its process (unless another process holds the counting lock) and shows the last
one meanwhile, with its age. Without Redis each process counts for itself, on the request, at most that
often.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass

import redis

from common.db import Database
from common.infra import redis_client
from common.infra.settings import get_settings
from common.repositories import faces, images, jobs, personas, predictions
from visualization_web import queries

log = logging.getLogger(__name__)
LOCK_SECONDS = 600  # a count that has not finished by then (a crashed process) no longer blocks the next


@dataclass(frozen=True)
class Counts:
    values: dict[str, int]  # images, faces, personas, confirmed, predicted, unknown, rejected_files
    counted_at: float  # when the count started, in seconds since the epoch

    def age(self) -> float:
        return max(0.0, time.time() - self.counted_at)


def count(db: Database) -> dict[str, int]:
    """Count now (the slow part)."""
    people = personas.list_all(db)
    confirmed = sum(n for n, _ in queries.confirmed_of_personas(db, people))
    predicted, unknown = predictions.count_predicted_and_unknown(db, page_size=5000)
    rejected_files = 0
    for job in jobs.recent(db, limit=10):
        progress = jobs.progress(db, job.job_id)
        rejected_files += progress.counts["rejected"] if progress else 0
    return {
        "images": images.count(db),
        "faces": faces.count(db),
        "personas": len(people),
        "confirmed": confirmed,
        "predicted": predicted,
        "unknown": unknown,
        "rejected_files": rejected_files,
    }


_here: dict[str, Counts] = {}  # per process, without Redis
_here_lock = threading.Lock()


def _key(keyspace: str) -> str:
    return f"pp:{keyspace}:corpus-counts"


def forget(keyspace: str) -> None:
    """Drop the stored count, so that the next view counts afresh (after a keyspace was emptied)."""
    redis_client.redis_connection().delete(_key(keyspace), f"{_key(keyspace)}:counting")
    with _here_lock:
        _here.pop(keyspace, None)


def current(db: Database, max_age: float | None = None) -> Counts | None:
    """The last count, and a new one started when it is older than ``max_age`` seconds (default: the
    settings'). None only while another process makes the keyspace's first count."""
    max_age = get_settings().corpus_counts_seconds if max_age is None else max_age
    if redis_client.unavailable():
        return _counted_here(db, max_age)
    try:
        client = redis_client.redis_connection()
        stored = client.get(_key(db.keyspace))
    except redis.RedisError as exc:
        redis_client.note_failure()
        log.warning("corpus counts: Redis unavailable, counting in this process: %s", exc)
        return _counted_here(db, max_age)
    last = _decode(stored)
    if last is None:  # the keyspace's first count (or Redis lost it): this view waits for it
        token = _lock(client, db.keyspace)
        return None if token is None else _count_and_store(db, client, token)
    if last.age() >= max_age:
        token = _lock(client, db.keyspace)
        if token is not None:
            threading.Thread(target=_count_in_background, args=(db, client, token), name="corpus-counts",
                             daemon=True).start()  # fmt: skip
    return last


def _decode(stored: bytes | None) -> Counts | None:
    if stored is None:
        return None
    try:
        data = json.loads(stored)
        return Counts({k: int(v) for k, v in data["values"].items()}, float(data["counted_at"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # not ours, or from an older layout: counted again


def _lock(client: redis.Redis, keyspace: str) -> str | None:
    token = secrets.token_hex(8)
    try:
        return token if client.set(f"{_key(keyspace)}:counting", token, nx=True, ex=LOCK_SECONDS) else None
    except redis.RedisError:
        return None


def _count_and_store(db: Database, client: redis.Redis, token: str) -> Counts:
    started = time.time()  # the count is as old as its first read
    try:
        counts = Counts(count(db), started)
        try:
            client.set(_key(db.keyspace), json.dumps({"values": counts.values, "counted_at": counts.counted_at}))
        except redis.RedisError as exc:  # this view still shows it; the next one counts again
            redis_client.note_failure()
            log.warning("corpus counts not stored: %s", exc)
        return counts
    finally:  # stored (or failed): the next stale view may count again
        _unlock(client, db.keyspace, token)


def _unlock(client: redis.Redis, keyspace: str, token: str) -> None:
    lock = f"{_key(keyspace)}:counting"
    try:
        if client.get(lock) == token.encode():
            client.delete(lock)
    except redis.RedisError:
        pass  # it expires after LOCK_SECONDS


def _count_in_background(db: Database, client: redis.Redis, token: str) -> None:
    try:
        _count_and_store(db, client, token)
    except Exception as exc:  # the last count stays up; the next stale view tries again
        log.warning("corpus counts not refreshed: %s", exc)


def _counted_here(db: Database, max_age: float) -> Counts:
    with _here_lock:
        last = _here.get(db.keyspace)
    if last is not None and last.age() < max_age:
        return last
    started = time.time()
    counts = Counts(count(db), started)
    with _here_lock:
        _here[db.keyspace] = counts
    return counts
