"""Reclassification of new faces and full passes (scoped refreshes: ``trainer_worker.scoped_refresh``).

Both paths are on the ``reclassify`` queue; ``trainer_worker.prediction_writes`` predicts and writes:

* **New faces** (``ReclassifyBatch``, sent by extraction at the default priority, served first):
  :func:`reclassify_batch` reads the cards of the faces' images and predicts them with their siblings.
* **A full pass** (``ReclassifyAll``: after a promotion a scoped refresh cannot bound, or a scheduled
  audit): :func:`reclassify_all` streams the tokens of ``faces_by_image`` and cuts the token ring into
  shards of about ``PP_RECLASSIFY_SHARD_FACES`` faces, never splitting an image; each ``ReclassifyShard``
  (low priority) carries only its range. :func:`reclassify_shard` reads its range page by page (cards hold
  the labels, the current prediction and the embedding: migration 0012), predicts each chunk with the
  active version and writes it. Memory stays at a page or a chunk in the fan-out and in every shard,
  whatever the corpus size; Redis holds a few bytes per shard.

A *full* pass starts a new review-queue generation (its version's partitions) and builds the index of all
faces when there is none (``trainer_worker.face_index``); when its last shard ends, the older generations
are dropped and the index is complete. An *audit* pass rewrites only what changed, in the current
generation, and counts the decisions it changed (what scoped refreshes missed).

A pass's state lives in Redis (``common.infra.reclassify_passes``, which the web app reads for its progress):
its id, kind, the shards planned, the shards still unfinished (index -> range, so a redelivered fan-out
re-sends them), the faces written and the decisions changed. A newer pass (of any version) deletes the
older passes' state; a shard checks at its start and before each chunk that its pass is current and its
shard unfinished, else it stops. Human labels are never written over (confirmed faces are skipped),
rejections are honoured, faces erased meanwhile (a privacy erase) are skipped, and a face whose card
already holds the same prediction is not written again (a redelivered shard writes nothing).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from cassandra.util import datetime_from_uuid1

from common.classifier import load_active
from common.db import Database
from common.infra import metrics
from common.infra.messages import TOKEN_MAX, TOKEN_MIN, ReclassifyShard, Send
from common.infra.reclassify_passes import PASS_TTL, PASSES_KEY, PassProgress, keys, pass_progress
from common.infra.settings import get_settings
from common.repositories import face_cards, face_cells, predictions, refreshes
from common.repositories import models as models_repo
from common.repositories import personas as personas_repo
from common.repositories.face_cards import PassFace
from common.repositories.models import active_version, history
from trainer_worker import face_index
from trainer_worker.prediction_writes import Mode, predict_and_write

log = logging.getLogger(__name__)

__all__ = ["PassProgress", "pass_progress", "reclassify_all", "reclassify_batch", "reclassify_shard"]

FANOUT_LOCK_SECONDS = 60
TOKEN_PAGE = 5000
ACTIVE_CHECK_EVERY = 20  # shards planned between two checks of the active version by the fan-out

# Plan one shard if the pass is still the version's current one (atomically: a newer pass may delete it).
_PLAN = """
if redis.call('HGET', KEYS[1], 'pass_id') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[1], 'planned', tonumber(ARGV[2]) + 1, 'cursor', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('EXPIRE', KEYS[3], ARGV[6])
return 1
"""
# A shard done (ARGV[2] = its index, '' for the fan-out's end): 1 when the whole pass just finished.
_DONE = """
if redis.call('HGET', KEYS[1], 'pass_id') ~= ARGV[1] then return -1 end
if ARGV[2] == '' then
  redis.call('HSET', KEYS[1], 'complete', 1)
else
  if redis.call('HDEL', KEYS[2], ARGV[2]) == 0 then return -2 end
  redis.call('HINCRBY', KEYS[1], 'faces', ARGV[3])
  redis.call('HINCRBY', KEYS[1], 'decisions', ARGV[5])
end
if redis.call('HGET', KEYS[1], 'complete') == '1' and redis.call('HLEN', KEYS[2]) == 0 then
  return redis.call('HSETNX', KEYS[1], 'finished_at', ARGV[4])
end
return 0
"""


@dataclass(frozen=True)
class TokenRange:
    """token(image_id) > start AND token(image_id) <= end."""

    start: int
    end: int


@dataclass(frozen=True)
class BatchResult:
    version: int | None
    predicted: int = 0  # predictions written
    labeled: int = 0  # faces confirmed by a human (never predicted)
    missing: int = 0  # faces asked for that are gone
    unchanged: int = 0  # faces whose card already held the same prediction


@dataclass(frozen=True)
class ShardResult:
    status: str  # "done", "skipped" (finished before) or "cancelled" (a newer pass replaced its pass)
    predicted: int = 0
    unchanged: int = 0
    decisions_changed: int = 0


FULL, AUDIT = "full", "audit"


# ------------------------------------------------------------------ the fan-out
def cut_ranges(tokens: Iterable[int], shard_faces: int, start: int = TOKEN_MIN) -> Iterator[tuple[TokenRange, int]]:
    """Consecutive ranges from ``start`` to the end of the ring, each with at least ``shard_faces`` of the
    (sorted) ``tokens`` (the last one: what is left), cut only between two different tokens, so the rows of
    one image (one token) are never split. Yields (range, rows in it)."""
    count, last = 0, None
    for token in tokens:
        if count >= shard_faces and token != last and last is not None:
            yield TokenRange(start, last), count
            start, count = last, 0
        count += 1
        last = token
    if start < TOKEN_MAX:
        yield TokenRange(start, TOKEN_MAX), count


def reclassify_all(db: Database, client: redis.Redis, version: int, send: Send, pass_id: str | None = None,
                   shard_faces: int | None = None, kind: str = FULL, previous: int | None = None) -> int:  # fmt: skip
    """Start (or, for the same ``pass_id``, resume) the full pass of ``version`` if it is the active one:
    send a ``ReclassifyShard`` per token range. Returns the shards sent by this call.

    ``kind`` full: the pass starts a new review-queue generation (its version's partitions; the older ones
    are dropped when it ends) and refreshes every persona; audit: a scheduled check of the active version
    that rewrites only what changed, in the current generation, and reports how many decisions it changed."""
    active = active_version(db)
    if active is None or version != active:
        log.info("reclassify for v%s skipped: v%s is active now", version, active)
        return 0
    pass_id = pass_id or uuid.uuid4().hex
    shard_faces = shard_faces or get_settings().reclassify_shard_faces
    pass_key, _, fanout_key = keys(version)
    token = uuid.uuid4().hex  # this delivery's hold on the fan-out (a copy of the message has the same pass id)
    if client.hget(pass_key, "pass_id") == pass_id.encode():  # a redelivered (or retried) fan-out of this pass
        while not client.set(fanout_key, token, nx=True, ex=FANOUT_LOCK_SECONDS):
            if client.hget(pass_key, "pass_id") != pass_id.encode() or client.hget(pass_key, "complete") == b"1":
                return 0  # another delivery planned it (or a newer pass replaced it)
            time.sleep(1.0)  # another delivery plans it now: wait for it to end (or die: its hold expires)
        try:
            state = client.hgetall(pass_key)
            if state.get(b"complete") == b"1" or state.get(b"pass_id") != pass_id.encode():
                return 0
            sent = _resend_unfinished(client, version, pass_id, send)
            cursor, index = int(state.get(b"cursor", TOKEN_MIN)), int(state.get(b"planned", 0))
            return sent + _plan(db, client, version, pass_id, send, shard_faces, cursor, index)
        finally:
            _release(client, fanout_key, token)
    codebook = face_index.ensure_codebook(db)
    generation = version if kind == FULL else (models_repo.queue_version(db) or version)
    _start_pass(client, version, pass_id, kind, generation, codebook)
    if kind == FULL:
        models_repo.start_queue_generation(db, version)
    refreshes.started(db, version, previous, kind, None)
    client.set(fanout_key, token, ex=FANOUT_LOCK_SECONDS)
    try:
        return _plan(db, client, version, pass_id, send, shard_faces, TOKEN_MIN, 0)
    finally:
        _release(client, fanout_key, token)


def _plan(db: Database, client: redis.Redis, version: int, pass_id: str, send: Send, shard_faces: int, cursor: int,
          index: int) -> int:  # fmt: skip
    """Cut the ring from ``cursor`` into shards (numbered from ``index``), record and send each; returns how many."""
    pass_key, shards_key, fanout_key = keys(version)
    plan = client.register_script(_PLAN)
    sent = 0
    for token_range, _count in cut_ranges(face_cards.scan_tokens(db, TOKEN_PAGE, after=cursor), shard_faces, cursor):
        args = [pass_id, index, f"{token_range.start} {token_range.end}", token_range.end, PASS_TTL,
                FANOUT_LOCK_SECONDS]  # fmt: skip
        if not plan(keys=[pass_key, shards_key, fanout_key], args=args):
            log.info("pass %s of v%s stops planning: a newer pass started", pass_id, version)
            return sent
        send(ReclassifyShard(version=version, pass_id=pass_id, shard=index, start=token_range.start,
                             end=token_range.end))  # fmt: skip
        index += 1
        sent += 1
    if _done(client, version, pass_id, ""):
        _finish_pass(db, client, version)
    log.info("pass %s of v%s: %d shards planned", pass_id, version, index)
    return sent


def _release(client: redis.Redis, key: str, token: str) -> None:
    """Give up this delivery's hold on the fan-out (only its own: another's may have replaced an expired one)."""
    try:
        if client.get(key) == token.encode():
            client.delete(key)
    except redis.RedisError:
        log.warning("could not release %s: it expires by itself", key)


def _start_pass(client: redis.Redis, version: int, pass_id: str, kind: str, generation: int,
                codebook: int | None) -> None:  # fmt: skip
    """This pass becomes the only one: the state of every other pass (of any version) is deleted, which
    stops their shards."""
    older = [int(v) for v in client.smembers(PASSES_KEY)]
    pass_key, shards_key, _ = keys(version)
    pipe = client.pipeline()
    for other in older:
        pipe.delete(*keys(other)[:2])
    pipe.delete(shards_key)
    pipe.hset(pass_key, mapping={"pass_id": pass_id, "planned": 0, "faces": 0, "decisions": 0, "cursor": TOKEN_MIN,
                                 "kind": kind, "generation": generation, "codebook": codebook or 0,
                                 "started_at": datetime.now(UTC).isoformat()})  # fmt: skip
    pipe.expire(pass_key, PASS_TTL)
    if older:
        pipe.srem(PASSES_KEY, *older)
    pipe.sadd(PASSES_KEY, version)
    pipe.execute()


def _resend_unfinished(client: redis.Redis, version: int, pass_id: str, send: Send) -> int:
    """A fan-out that died after planning some shards: send every unfinished one again (a copy of one still
    queued runs twice, writing the same rows; the second finds it done)."""
    unfinished = client.hgetall(keys(version)[1])
    for index, value in sorted(unfinished.items(), key=lambda item: int(item[0])):
        start, end = (int(v) for v in value.split())
        send(ReclassifyShard(version=version, pass_id=pass_id, shard=int(index), start=start, end=end))
    return len(unfinished)


def _done(client: redis.Redis, version: int, pass_id: str, shard: str, faces: int = 0, decisions: int = 0) -> bool:
    """Record a shard finished ('' : the fan-out planned its last one); True for the call that finishes the pass."""
    pass_key, shards_key, _ = keys(version)
    result = client.register_script(_DONE)(keys=[pass_key, shards_key],
                                           args=[pass_id, shard, faces, datetime.now(UTC).isoformat(),
                                                 decisions])  # fmt: skip
    return result == 1


def _finish_pass(db: Database, client: redis.Redis, version: int) -> None:
    """The last shard of the pass of ``version`` finished: a full pass drops the older review-queue
    generations and completes its codebook; both kinds record the refresh (faces written, decisions changed)."""
    state = {k.decode(): v.decode() for k, v in client.hgetall(keys(version)[0]).items()}
    if state.get("kind", FULL) == FULL:
        dropped = drop_superseded_queues(db, version)
        log.info("full pass of v%s finished; review queues of %s dropped", version, dropped)
        codebook = int(state.get("codebook", 0))
        if codebook:
            face_cells.mark_complete(db, codebook)
    refreshes.finished(db, version, int(state.get("faces", 0)), int(state.get("decisions", 0)))
    if state.get("kind", FULL) == FULL:
        record_refreshed(db, version)


def record_refreshed(db: Database, version: int) -> None:
    """The label -> refreshed-predictions latency of ``version`` (from the last change it learned)."""
    mv = models_repo.get_version(db, version)
    if mv is not None and mv.trigger_event is not None:
        learned = datetime_from_uuid1(mv.trigger_event).replace(tzinfo=UTC)
        metrics.record_label_to_refresh("predictions", (datetime.now(UTC) - learned).total_seconds())


# ------------------------------------------------------------------ one shard
def reclassify_shard(db: Database, client: redis.Redis, shard: ReclassifyShard,
                     chunk_faces: int | None = None) -> ShardResult:  # fmt: skip
    """Predict and write the faces of the shard's range, a chunk at a time (``PP_RECLASSIFY_BATCH_SIZE``
    faces, whole images), with the active version; stops when its pass is no longer the current one."""
    chunk_faces = chunk_faces or get_settings().reclassify_batch_size
    pass_state = _shard_state(client, shard)
    if pass_state is None:
        return ShardResult("skipped" if _pass_current(client, shard) else "cancelled")
    kind, generation = pass_state
    mode = Mode.FULL if kind == FULL else Mode.AUDIT
    written = unchanged = decisions = 0
    for n, chunk in enumerate(_chunks(face_cards.scan_range(db, shard.start, shard.end, chunk_faces), chunk_faces)):
        if n and _shard_state(client, shard) is None:
            return ShardResult("cancelled", written, unchanged, decisions)
        classifier = load_active(db)
        if classifier is None:
            return ShardResult("cancelled", written, unchanged, decisions)
        outcome = predict_and_write(db, client, classifier, chunk, mode, generation)
        written, unchanged = written + outcome.predicted, unchanged + outcome.unchanged
        decisions += outcome.decisions_changed
    metrics.record_reclassified("pass", written)
    metrics.record_decisions_changed(decisions)
    if _done(client, shard.version, shard.pass_id, str(shard.shard), written, decisions):
        _finish_pass(db, client, shard.version)
    return ShardResult("done", written, unchanged, decisions)


def _shard_state(client: redis.Redis, shard: ReclassifyShard) -> tuple[str, int] | None:
    """(kind, review-queue generation) of the shard's pass while it is the current pass and the shard is
    unfinished; else None."""
    pass_key, shards_key, _ = keys(shard.version)
    pipe = client.pipeline()
    pipe.hmget(pass_key, "pass_id", "kind", "generation")
    pipe.hexists(shards_key, str(shard.shard))
    (pass_id, kind, generation), unfinished = pipe.execute()
    if pass_id != shard.pass_id.encode() or not unfinished:
        return None
    return (kind or b"full").decode(), int(generation or shard.version)


def _pass_current(client: redis.Redis, shard: ReclassifyShard) -> bool:
    return client.hget(keys(shard.version)[0], "pass_id") == shard.pass_id.encode()


def _chunks(faces: Iterable[PassFace], size: int) -> Iterator[list[PassFace]]:
    """Lists of about ``size`` faces, cut only between images (faces arrive in token order)."""
    chunk: list[PassFace] = []
    for face in faces:
        if len(chunk) >= size and face.token != chunk[-1].token:
            yield chunk
            chunk = []
        chunk.append(face)
    if chunk:
        yield chunk


# ------------------------------------------------------------------ new faces
def reclassify_batch(db: Database, face_ids: list[str], client: redis.Redis | None = None,
                     image_ids: Iterable[str] = ()) -> BatchResult:  # fmt: skip
    """Predict new faces with the active model, with every face of their images (the same-image constraint):
    the images' cards are read (``image_ids``, or the images of ``face_ids`` when not given)."""
    classifier = load_active(db)
    if classifier is None:
        return BatchResult(None)
    images = list(dict.fromkeys(image_ids)) or list(dict.fromkeys(face_cards.image_ids(db, face_ids).values()))
    found = face_cards.faces_of_images(db, images)
    missing = len(set(face_ids) - {f.face_id for f in found})
    generation = models_repo.queue_version(db) or classifier.version
    result = predict_and_write(db, client, classifier, found, Mode.NEW, generation)
    metrics.record_reclassified("batch", result.predicted)
    return BatchResult(result.version, result.predicted, result.labeled, missing, result.unchanged)


def drop_superseded_queues(db: Database, generation: int) -> list[int]:
    """Drop the review queues of every generation other than ``generation``: those recorded by earlier full
    passes, and (for queues written before migration 0014) those of recently active versions."""
    versions = set(models_repo.queue_generations(db))
    for entry in history(db, limit=20):
        if entry.action == "reject":
            continue  # rejected candidates never served predictions
        versions.update(v for v in (entry.version, entry.previous_version) if v is not None)
    versions.discard(generation)
    if versions:
        persona_ids: list[uuid.UUID | None] = [p.persona_id for p in personas_repo.list_all(db)]
        predictions.drop_version_queues(db, [*persona_ids, None], sorted(versions))
        for version in versions:
            models_repo.forget_queue_generation(db, version)
    return sorted(versions)
