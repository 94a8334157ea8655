"""Predictions, one current per face, stamped with the model version that made it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cassandra.concurrent import execute_concurrent_with_args

from common.db import Database
from common.db.retry import call_with_backoff
from common.repositories import corpus_counters, face_cards, read_model
from common.repositories.ids import UNKNOWN_PERSONA, bucket_of

BUCKETS = 8
_INSERT_BY_FACE = (
    "INSERT INTO predictions_by_face (face_id, persona_id, score, distance, model_version, predicted_at, "
    "queue_version) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True)
class Prediction:
    face_id: str
    persona_id: uuid.UUID | None  # None: unknown
    score: float
    distance: float | None
    model_version: int
    image_id: str | None = None
    predicted_at: datetime | None = None
    queue_version: int | None = None  # the review-queue generation holding its row (None: model_version's)

    @property
    def queue(self) -> int:
        """The version whose review-queue partitions hold (or will hold) this prediction's row."""
        return self.queue_version if self.queue_version is not None else self.model_version


def _key(persona_id: uuid.UUID | None) -> uuid.UUID:
    return persona_id or UNKNOWN_PERSONA


def for_face(db: Database, face_id: str) -> Prediction | None:
    r = db.one("SELECT * FROM predictions_by_face WHERE face_id = ?", (face_id,))
    if r is None:
        return None
    return Prediction(r.face_id, r.persona_id, r.score or 0.0, r.distance, r.model_version or 0, None, r.predicted_at,
                      r.queue_version)  # fmt: skip


def put(db: Database, prediction: Prediction) -> None:
    """Write (or replace) the face's prediction and its card's; its old review-queue row is removed first."""
    old = for_face(db, prediction.face_id)
    if old is not None:
        _delete_queue_row(db, old)
    image_id = prediction.image_id or face_cards.image_of(db, prediction.face_id)
    statements = [
        (_INSERT_BY_FACE,
         (prediction.face_id, prediction.persona_id, prediction.score, prediction.distance,
          prediction.model_version, prediction.predicted_at or datetime.now(UTC), prediction.queue_version)),
        ("INSERT INTO predictions_by_persona (persona_id, model_version, bucket, score, face_id, image_id, distance) "
         "VALUES (?, ?, ?, ?, ?, ?, ?)",
         (_key(prediction.persona_id), prediction.queue, bucket_of(prediction.face_id, BUCKETS),
          prediction.score, prediction.face_id, image_id, prediction.distance)),
    ]  # fmt: skip
    if image_id:
        statements.append((face_cards.PREDICTION_CQL, _card_row(prediction, image_id)))
    db.concurrently(statements)
    kind = corpus_counters.prediction_kind
    changes = [(kind(old.persona_id) if old else None, kind(prediction.persona_id))]
    corpus_counters.add_many(db, corpus_counters.prediction_deltas(changes))
    read_model.changed(db)


def _card_row(p: Prediction, image_id: str) -> tuple:
    return face_cards.prediction_row(image_id, p.face_id, p.persona_id, p.score, p.distance, p.model_version,
                                     p.queue_version)  # fmt: skip


def _delete_queue_row(db: Database, old: Prediction) -> None:
    db.execute(
        "DELETE FROM predictions_by_persona WHERE persona_id = ? AND model_version = ? AND bucket = ? "
        "AND score = ? AND face_id = ?",
        (_key(old.persona_id), old.queue, bucket_of(old.face_id, BUCKETS), old.score, old.face_id),
    )


def delete_for_face(db: Database, face_id: str, image_id: str | None = None) -> None:
    """A labeled face leaves the review queues (labels are ground truth; it is not predicted again), and its
    card shows no prediction. ``image_id`` (the face's image) is looked up when not given."""
    old = for_face(db, face_id)
    if old is not None:
        _delete_queue_row(db, old)
    statements = [("DELETE FROM predictions_by_face WHERE face_id = ?", (face_id,))]
    image_id = image_id or face_cards.image_of(db, face_id)
    if image_id:
        statements.append(face_cards.clear_prediction_statement(image_id, face_id))
    db.concurrently(statements)
    if old is not None:
        corpus_counters.add(db, corpus_counters.prediction_kind(old.persona_id), -1)
    read_model.changed(db)


def queue(db: Database, persona_id: uuid.UUID | None, model_version: int, limit: int = 50,
          most_confident_first: bool = False, offset: int = 0) -> list[Prediction]:  # fmt: skip
    """The review queue of a persona (None: unknown faces), most uncertain first by default."""
    order = "DESC" if most_confident_first else "ASC"
    rows: list[Prediction] = []
    for bucket in range(BUCKETS):
        result = db.execute(
            "SELECT * FROM predictions_by_persona WHERE persona_id = ? AND model_version = ? AND bucket = ? "
            f"ORDER BY score {order} LIMIT ?",
            (_key(persona_id), model_version, bucket, limit + offset),
        )
        rows.extend(Prediction(r.face_id, persona_id, r.score, r.distance, model_version, r.image_id) for r in result)
    rows.sort(key=lambda p: (p.score, p.face_id), reverse=most_confident_first)
    return rows[offset : offset + limit]


def queue_buckets(db: Database, persona_id: uuid.UUID | None, model_version: int, buckets: list[int],
                  limit: int, most_confident_first: bool = False) -> list[list[Prediction]]:  # fmt: skip
    """The first ``limit`` predictions of each of ``buckets`` of a review queue (None: unknown faces), most
    uncertain first by default: one round of concurrent reads; the predictions per bucket, in order."""
    order = "DESC" if most_confident_first else "ASC"
    cql = ("SELECT face_id, score, distance, image_id FROM predictions_by_persona WHERE persona_id = ? "
           f"AND model_version = ? AND bucket = ? ORDER BY score {order} LIMIT ?")  # fmt: skip
    key = _key(persona_id)
    results = db.concurrently([(cql, (key, model_version, bucket, limit)) for bucket in buckets])
    return [[Prediction(r.face_id, persona_id, r.score, r.distance, model_version, r.image_id) for r in rows]
            for rows in results]  # fmt: skip


def count_predicted_and_unknown(db: Database, page_size: int = 5000) -> tuple[int, int]:
    """(faces predicted as a persona, faces predicted unknown): a paged full read of ``predictions_by_face``."""
    predicted = unknown = 0
    for row in db.execute("SELECT persona_id FROM predictions_by_face", fetch_size=page_size):
        if row.persona_id is None:
            unknown += 1
        else:
            predicted += 1
    return predicted, unknown


def drop_version_queue(db: Database, persona_id: uuid.UUID | None, model_version: int) -> None:
    """Remove a superseded version's review queue of one persona (whole partitions)."""
    for bucket in range(BUCKETS):
        db.execute(
            "DELETE FROM predictions_by_persona WHERE persona_id = ? AND model_version = ? AND bucket = ?",
            (_key(persona_id), model_version, bucket),
        )
    read_model.changed(db)


def _old_rows(db: Database, face_ids: list[str]) -> dict[str, Prediction]:
    prepared = db.prepare("SELECT face_id, persona_id, score, model_version, queue_version FROM predictions_by_face "
                          "WHERE face_id = ?")  # fmt: skip

    def run() -> dict[str, Prediction]:
        out: dict[str, Prediction] = {}
        for ok, result in execute_concurrent_with_args(db.session, prepared, [(f,) for f in face_ids], concurrency=64):
            if not ok:
                raise result
            for r in result:
                out[r.face_id] = Prediction(r.face_id, r.persona_id, r.score or 0.0, None, r.model_version or 0,
                                            queue_version=r.queue_version)  # fmt: skip
        return out

    return call_with_backoff(run, db.overload_retries)


def put_many(db: Database, new: list[Prediction], replace_old: bool = True,
             previous: dict[str, Prediction] | None = None) -> None:  # fmt: skip
    """Write many predictions concurrently. Each face's row is replaced in one write (readers never see two
    versions mixed for a face); its new review-queue row is written before the superseded one is removed.

    ``previous`` (face id -> its prediction now, e.g. from its card) saves reading them; ``replace_old=False``
    without ``previous`` skips reading and removing the previous queue rows (a full reclassification pass
    drops the superseded versions' queues as whole partitions instead)."""
    if not new:
        return
    old = previous
    if old is None:
        old = _old_rows(db, [p.face_id for p in new]) if replace_old else {}
    now = datetime.now(UTC)
    _write_in_batches(
        db,
        _INSERT_BY_FACE,
        [
            (p.face_id, p.persona_id, p.score, p.distance, p.model_version, p.predicted_at or now, p.queue_version)
            for p in new
        ],
        partition=lambda row: row[0],
    )
    _insert_queue_rows(db, [(_key(p.persona_id), p.queue, bucket_of(p.face_id, BUCKETS), p.score, p.face_id,
                             p.image_id, p.distance) for p in new])  # fmt: skip
    found = face_cards.image_ids(db, [p.face_id for p in new if not p.image_id])
    _write_in_batches(
        db,
        face_cards.PREDICTION_CQL,
        [_card_row(p, p.image_id or found[p.face_id]) for p in new if p.image_id or p.face_id in found],
        partition=lambda row: row[5],  # the image (face_cards.prediction_row)
    )
    stale = []
    for p in new:
        o = old.get(p.face_id)
        if o is not None and (_key(o.persona_id), o.queue, _f32(o.score)) != (
            _key(p.persona_id),
            p.queue,
            _f32(p.score),
        ):
            stale.append((_key(o.persona_id), o.queue, bucket_of(o.face_id, BUCKETS), o.score, o.face_id))
    db.execute_many(
        "DELETE FROM predictions_by_persona WHERE persona_id = ? AND model_version = ? AND bucket = ? "
        "AND score = ? AND face_id = ?",
        stale,
    )
    if replace_old and previous is None:  # read here, so exact; else the caller counts (or the reconcile does)
        kind = corpus_counters.prediction_kind
        before = {face_id: kind(o.persona_id) for face_id, o in old.items()}
        changes = [(before.get(p.face_id), kind(p.persona_id)) for p in new]
        corpus_counters.add_many(db, corpus_counters.prediction_deltas(changes))
    read_model.changed(db)


# Rows of many partitions (faces' rows, images' cards, review-queue rows) go in UNLOGGED batches of at most this
# many partitions and rows: one request instead of one per row (about 3x the rows per second, measured: 11k
# single writes/s, 33k/s in batches of 10), under Cassandra's warnings (10 partitions, 5 KB per batch).
BATCH_PARTITIONS = 10
BATCH_ROWS = 20


def _write_in_batches(db: Database, cql: str, rows: list[tuple], partition: Callable[[tuple], object]) -> None:
    """One statement for many rows: UNLOGGED batches of at most BATCH_PARTITIONS partitions and BATCH_ROWS rows
    (a partition's rows kept together), sent concurrently. Each row is still one write."""
    db.execute_batches(cql, rows, partition, max_partitions=BATCH_PARTITIONS, max_rows=BATCH_ROWS)


def _insert_queue_rows(db: Database, rows: list[tuple]) -> None:
    """Review-queue rows in small UNLOGGED batches (a partition's rows together), sent concurrently."""
    _write_in_batches(
        db,
        "INSERT INTO predictions_by_persona (persona_id, model_version, bucket, score, face_id, image_id, distance) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
        partition=lambda row: row[:3],
    )


def _f32(value: float) -> float:
    import struct

    return struct.unpack("<f", struct.pack("<f", float(value)))[0]


def drop_version_queues(db: Database, persona_ids: list[uuid.UUID | None], versions: list[int]) -> None:
    """Remove superseded versions' review queues (whole partitions, concurrently)."""
    db.execute_many(
        "DELETE FROM predictions_by_persona WHERE persona_id = ? AND model_version = ? AND bucket = ?",
        [(_key(p), v, b) for p in persona_ids for v in versions for b in range(BUCKETS)],
    )
    read_model.changed(db)


def purge_faces(db: Database, face_ids: set[str], persona_ids: list[uuid.UUID | None], versions: list[int]) -> int:
    """A privacy erase: remove the faces' rows from the review queues of every given persona (None: unknown)
    and model version, current or superseded, and their current predictions. Reads only the queue buckets
    the faces hash to. Returns how many queue rows were removed."""
    if not face_ids:
        return 0
    buckets = sorted({bucket_of(f, BUCKETS) for f in face_ids})
    keys = [(_key(p), v, b) for p in dict.fromkeys(persona_ids) for v in versions for b in buckets]
    stmt = "SELECT persona_id, model_version, bucket, score, face_id FROM predictions_by_persona " \
           "WHERE persona_id = ? AND model_version = ? AND bucket = ?"  # fmt: skip
    found = [rows for start in range(0, len(keys), 256)
             for rows in db.concurrently([(stmt, key) for key in keys[start : start + 256]])]  # fmt: skip
    doomed = [(r.persona_id, r.model_version, r.bucket, r.score, r.face_id)
              for rows in found for r in rows if r.face_id in face_ids]  # fmt: skip
    db.execute_many("DELETE FROM predictions_by_persona WHERE persona_id = ? AND model_version = ? AND bucket = ? "
                    "AND score = ? AND face_id = ?", doomed)  # fmt: skip
    db.execute_many("DELETE FROM predictions_by_face WHERE face_id = ?", [(f,) for f in sorted(face_ids)])
    read_model.changed(db)
    return len(doomed)
