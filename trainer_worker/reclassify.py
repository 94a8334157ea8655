"""Reclassification: every face without a human confirmation gets a prediction from the active model.

Two paths, both on the ``reclassify`` queue:

* **New faces** (``ReclassifyBatch``, sent by extraction at the default priority, served first):
  :func:`reclassify_batch` reads the cards of the faces' images and predicts them with their siblings.
* **A full pass** (``ReclassifyAll``, sent when a version becomes active): :func:`reclassify_all` streams the
  tokens of ``faces_by_image`` and cuts the token ring into shards of about ``PP_RECLASSIFY_SHARD_FACES``
  faces, never splitting an image; each ``ReclassifyShard`` (low priority) carries only its range.
  :func:`reclassify_shard` reads its range page by page (cards hold the labels, the current prediction and
  the embedding: migration 0012), predicts and writes each chunk. Memory stays at a page or a chunk in the
  fan-out and in every shard, whatever the corpus size; Redis holds a few bytes per shard.

A pass's state lives in Redis (``common.infra.reclassify_passes``, which the web app reads for its progress):
its id, the shards planned, the shards still unfinished (index -> range, so a redelivered fan-out re-sends
them) and the faces written. A newer
pass (of any version) deletes the older passes' state; a shard checks at its start and before each chunk
that its version is active and its shard is still unfinished in its pass, else it stops. After each write
the active version is read again: when another version became active meanwhile, the chunk is predicted
again with it, so an older version never stays written over a newer one. When the last shard finishes, the
review queues of the versions the pass replaced are dropped. Human labels are never written over (confirmed
faces are skipped), rejections are honoured, faces erased meanwhile (a privacy erase) are skipped, and a
face whose card already holds the same prediction is not written again (a redelivered shard writes nothing).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import redis

from common.classifier import load_active
from common.classifier.active import ActiveClassifier
from common.classifier.model import EMBEDDING_DIM
from common.db import Database
from common.infra.messages import TOKEN_MAX, TOKEN_MIN, ReclassifyShard, Send
from common.infra.reclassify_passes import PASS_TTL, PASSES_KEY, PassProgress, keys, pass_progress
from common.infra.settings import get_settings
from common.labeling.privacy_erase import erased_among
from common.repositories import corpus_counters, face_cards, predictions
from common.repositories import faces as faces_repo
from common.repositories import labels as labels_repo
from common.repositories import personas as personas_repo
from common.repositories.face_cards import PassFace
from common.repositories.faces import decode_embedding
from common.repositories.labels import FaceLabels
from common.repositories.models import active_version, history

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
    status: str  # "done", "skipped" (finished before, or its pass is gone) or "cancelled" (another version active)
    predicted: int = 0
    unchanged: int = 0


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
                   shard_faces: int | None = None) -> int:  # fmt: skip
    """Start (or, for the same ``pass_id``, resume) the full pass of ``version`` if it is the active one:
    send a ``ReclassifyShard`` per token range. Returns the shards sent by this call."""
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
    _start_pass(client, version, pass_id)
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
        if index % ACTIVE_CHECK_EVERY == ACTIVE_CHECK_EVERY - 1 and active_version(db) != version:
            log.info("pass %s of v%s stops planning: another version is active", pass_id, version)
            return sent
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
        _finish_pass(db, version)
    log.info("pass %s of v%s: %d shards planned", pass_id, version, index)
    return sent


def _release(client: redis.Redis, key: str, token: str) -> None:
    """Give up this delivery's hold on the fan-out (only its own: another's may have replaced an expired one)."""
    try:
        if client.get(key) == token.encode():
            client.delete(key)
    except redis.RedisError:
        log.warning("could not release %s: it expires by itself", key)


def _start_pass(client: redis.Redis, version: int, pass_id: str) -> None:
    """This pass becomes the only one: the state of every other pass (of any version) is deleted, which
    stops their shards at their next check."""
    older = [int(v) for v in client.smembers(PASSES_KEY)]
    pass_key, shards_key, _ = keys(version)
    pipe = client.pipeline()
    for other in older:
        pipe.delete(*keys(other)[:2])
    pipe.delete(shards_key)
    pipe.hset(pass_key, mapping={"pass_id": pass_id, "planned": 0, "faces": 0, "cursor": TOKEN_MIN,
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


def _done(client: redis.Redis, version: int, pass_id: str, shard: str, faces: int = 0) -> bool:
    """Record a shard finished ('' : the fan-out planned its last one); True for the call that finishes the pass."""
    pass_key, shards_key, _ = keys(version)
    result = client.register_script(_DONE)(keys=[pass_key, shards_key],
                                           args=[pass_id, shard, faces, datetime.now(UTC).isoformat()])  # fmt: skip
    return result == 1


def _finish_pass(db: Database, version: int) -> None:
    if active_version(db) == version:
        dropped = drop_superseded_queues(db, version)
        log.info("full pass of v%s finished; review queues of %s dropped", version, dropped)


# ------------------------------------------------------------------ one shard
def reclassify_shard(db: Database, client: redis.Redis, shard: ReclassifyShard,
                     chunk_faces: int | None = None) -> ShardResult:  # fmt: skip
    """Predict and write the faces of the shard's range, a chunk at a time (``PP_RECLASSIFY_BATCH_SIZE``
    faces, whole images); stops when its pass is no longer current."""
    chunk_faces = chunk_faces or get_settings().reclassify_batch_size
    if not _shard_current(db, client, shard):
        return ShardResult("skipped" if active_version(db) == shard.version else "cancelled")
    classifier = load_active(db, max_age=0)
    if classifier is None or classifier.version != shard.version:
        return ShardResult("cancelled")
    written = unchanged = 0
    for n, chunk in enumerate(_chunks(face_cards.scan_range(db, shard.start, shard.end, chunk_faces), chunk_faces)):
        if n and not _shard_current(db, client, shard):
            return ShardResult("cancelled", written, unchanged)
        outcome = _predict_and_write(db, client, classifier, chunk, full_pass=True)
        written, unchanged = written + outcome.predicted, unchanged + outcome.unchanged
        if outcome.version != shard.version:
            return ShardResult("cancelled", written, unchanged)  # a newer version: this chunk is repaired
    if _done(client, shard.version, shard.pass_id, str(shard.shard), written):
        _finish_pass(db, shard.version)
    return ShardResult("done", written, unchanged)


def _shard_current(db: Database, client: redis.Redis, shard: ReclassifyShard) -> bool:
    """Its version is active, its pass is the version's current one and the shard is not finished."""
    pass_key, shards_key, _ = keys(shard.version)
    pipe = client.pipeline()
    pipe.hget(pass_key, "pass_id")
    pipe.hexists(shards_key, str(shard.shard))
    pass_id, unfinished = pipe.execute()
    return pass_id == shard.pass_id.encode() and bool(unfinished) and active_version(db) == shard.version


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
    result = _predict_and_write(db, client, classifier, found, full_pass=False)
    return BatchResult(result.version, result.predicted, result.labeled, missing, result.unchanged)


# ------------------------------------------------------------------ predict and write
def _predict_and_write(db: Database, client: redis.Redis | None, classifier: ActiveClassifier,
                       found: list[PassFace], full_pass: bool) -> BatchResult:  # fmt: skip
    """Predict ``found`` (whole images) and write what changed. Afterwards the active version is read again:
    if another one became active meanwhile, the faces are predicted again with it (its own pass may have
    written them already: then the older version would stand over the newer one)."""
    if client is not None:  # erased while this task waited or ran: never written back (common.labeling.privacy_erase)
        erased = erased_among(client, [f.face_id for f in found])
        found = [f for f in found if f.face_id not in erased]
    embeddings = _embeddings(db, found)
    verdicts = _verdicts(db, found)
    usable = [f for f in found if f.face_id in embeddings]
    confirmed_in_image: dict[str, set[uuid.UUID]] = {}
    for face in usable:
        if verdicts[face.face_id].confirmed is not None:
            confirmed_in_image.setdefault(face.image_id, set()).add(verdicts[face.face_id].confirmed)
    todo = [f for f in usable if verdicts[f.face_id].confirmed is None]
    labeled = len(usable) - len(todo)
    written = unchanged = 0
    kinds = {f.face_id: _kind(f.prediction.persona_id) if f.prediction else None for f in todo}  # for the counters
    for attempt in range(3):
        new = _predict(classifier, todo, embeddings, verdicts, confirmed_in_image)
        if attempt == 0:
            changed = [p for p, f in zip(new, todo, strict=True) if not _same(p, f.prediction)]
            previous = {f.face_id: _as_prediction(f) for f in todo if f.prediction is not None
                        and (not full_pass or f.prediction.model_version == classifier.version)}  # fmt: skip
            if not full_pass:  # faces stored before cards (0006): their prediction is read from its table
                previous.update(_predictions_of(db, [f.face_id for f in todo if not f.has_card]))
            predictions.put_many(db, changed, previous=previous)
            written, unchanged = len(changed), len(new) - len(changed)
        else:  # a repair: the rows written a moment ago are read back and replaced
            changed = new
            predictions.put_many(db, new, replace_old=True)
            written += len(new)
        changes = [(kinds[p.face_id], _kind(p.persona_id)) for p in changed]
        corpus_counters.add_many(db, corpus_counters.prediction_deltas(changes))
        kinds.update((p.face_id, _kind(p.persona_id)) for p in changed)
        now_active = active_version(db)
        if now_active is None or now_active == classifier.version:
            break
        fresh = load_active(db, max_age=0)
        if fresh is None or fresh.version == classifier.version:
            break
        log.info("v%s became active while v%s predicted %d faces: predicting them again", fresh.version,
                 classifier.version, len(todo))  # fmt: skip
        classifier = fresh
    return BatchResult(classifier.version, written, labeled, 0, unchanged)


def _predict(classifier: ActiveClassifier, todo: list[PassFace], embeddings: dict[str, np.ndarray],
             verdicts: dict[str, FaceLabels], confirmed_in_image: dict[str, set[uuid.UUID]],
             ) -> list[predictions.Prediction]:  # fmt: skip
    if not todo:
        return []
    matrix = np.stack([embeddings[f.face_id] for f in todo])
    groups = [f.image_id for f in todo]
    exclude = [verdicts[f.face_id].rejected | confirmed_in_image.get(f.image_id, set()) for f in todo]
    results = classifier.predict(matrix, groups=groups, exclude=exclude)
    now = datetime.now(UTC)
    return [predictions.Prediction(f.face_id, r.persona_id, r.score, r.distance, classifier.version, f.image_id, now)
            for f, r in zip(todo, results, strict=True)]  # fmt: skip


def _embeddings(db: Database, found: list[PassFace]) -> dict[str, np.ndarray]:
    """Face id -> embedding: from the cards; from ``faces`` for cards not backfilled yet (before 0012)."""
    out = {f.face_id: decode_embedding(f.embedding) for f in found if f.embedding is not None}
    missing = [f.face_id for f in found if f.embedding is None]
    if missing:
        out.update((face_id, v.embedding) for face_id, v in faces_repo.vectors(db, missing).items())
    return {face_id: e for face_id, e in out.items() if e.shape == (EMBEDDING_DIM,)}


def _verdicts(db: Database, found: list[PassFace]) -> dict[str, FaceLabels]:
    """Face id -> its human labels: the card's copy; ``labels_by_face`` for faces without a card (before 0006)."""
    out: dict[str, FaceLabels] = {}
    for face in found:
        labels = FaceLabels()
        for persona_id, verdict in face.verdicts.items():
            labels.add(persona_id, verdict)
        out[face.face_id] = labels
    without_card = [f.face_id for f in found if not f.has_card]
    if without_card:
        out.update(labels_repo.of_faces(db, without_card))
    return out


SAME_WITHIN = 1e-5  # scores and distances computed in batches of other sizes differ in the last float32 bits


def _close(a: float | None, b: float | None) -> bool:
    return (a is None) == (b is None) and (a is None or b is None or abs(a - b) <= SAME_WITHIN)


def _same(new: predictions.Prediction, card: face_cards.CardPrediction | None) -> bool:
    """The card already shows this prediction (its rows were written before the card: nothing to write)."""
    return (card is not None and (new.persona_id, new.model_version) == (card.persona_id, card.model_version)
            and _close(new.score, card.score) and _close(new.distance, card.distance))  # fmt: skip


def _kind(persona_id: uuid.UUID | None) -> str:
    return corpus_counters.prediction_kind(persona_id)


def _predictions_of(db: Database, face_ids: list[str]) -> dict[str, predictions.Prediction]:
    found = {face_id: predictions.for_face(db, face_id) for face_id in face_ids}
    return {face_id: p for face_id, p in found.items() if p is not None}


def _as_prediction(face: PassFace) -> predictions.Prediction:
    p = face.prediction
    assert p is not None
    return predictions.Prediction(face.face_id, p.persona_id, p.score, p.distance, p.model_version, face.image_id)


def drop_superseded_queues(db: Database, active: int) -> list[int]:
    """Drop the review queues of recently active versions other than ``active``."""
    versions = set()
    for entry in history(db, limit=20):
        if entry.action == "reject":
            continue  # rejected candidates never served predictions
        versions.update(v for v in (entry.version, entry.previous_version) if v is not None)
    versions.discard(active)
    if versions:
        persona_ids: list[uuid.UUID | None] = [p.persona_id for p in personas_repo.list_all(db)]
        predictions.drop_version_queues(db, [*persona_ids, None], sorted(versions))
    return sorted(versions)
