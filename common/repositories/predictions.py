"""Predictions, one current per face, stamped with the model version that made it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from common.db import Database
from common.repositories.ids import UNKNOWN_PERSONA, bucket_of

BUCKETS = 8


@dataclass(frozen=True)
class Prediction:
    face_id: str
    persona_id: uuid.UUID | None  # None: unknown
    score: float
    distance: float | None
    model_version: int
    image_id: str | None = None
    predicted_at: datetime | None = None


def _key(persona_id: uuid.UUID | None) -> uuid.UUID:
    return persona_id or UNKNOWN_PERSONA


def for_face(db: Database, face_id: str) -> Prediction | None:
    r = db.one("SELECT * FROM predictions_by_face WHERE face_id = ?", (face_id,))
    if r is None:
        return None
    return Prediction(r.face_id, r.persona_id, r.score or 0.0, r.distance, r.model_version or 0, None, r.predicted_at)


def put(db: Database, prediction: Prediction) -> None:
    """Write (or replace) the face's prediction; its old review-queue row is removed first."""
    old = for_face(db, prediction.face_id)
    if old is not None:
        _delete_queue_row(db, old)
    db.execute(
        "INSERT INTO predictions_by_face (face_id, persona_id, score, distance, model_version, predicted_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (prediction.face_id, prediction.persona_id, prediction.score, prediction.distance,
         prediction.model_version, prediction.predicted_at or datetime.now(UTC)),
    )  # fmt: skip
    db.execute(
        "INSERT INTO predictions_by_persona (persona_id, model_version, bucket, score, face_id, image_id, distance) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (_key(prediction.persona_id), prediction.model_version, bucket_of(prediction.face_id, BUCKETS),
         prediction.score, prediction.face_id, prediction.image_id, prediction.distance),
    )  # fmt: skip


def _delete_queue_row(db: Database, old: Prediction) -> None:
    db.execute(
        "DELETE FROM predictions_by_persona WHERE persona_id = ? AND model_version = ? AND bucket = ? "
        "AND score = ? AND face_id = ?",
        (_key(old.persona_id), old.model_version, bucket_of(old.face_id, BUCKETS), old.score, old.face_id),
    )


def delete_for_face(db: Database, face_id: str) -> None:
    """A labeled face leaves the review queues (labels are ground truth; it is not predicted again)."""
    old = for_face(db, face_id)
    if old is not None:
        _delete_queue_row(db, old)
    db.execute("DELETE FROM predictions_by_face WHERE face_id = ?", (face_id,))


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
        rows.extend(
            Prediction(r.face_id, persona_id, r.score, r.distance, model_version, r.image_id) for r in result
        )
    rows.sort(key=lambda p: (p.score, p.face_id), reverse=most_confident_first)
    return rows[offset : offset + limit]


def drop_version_queue(db: Database, persona_id: uuid.UUID | None, model_version: int) -> None:
    """Remove a superseded version's review queue of one persona (whole partitions)."""
    for bucket in range(BUCKETS):
        db.execute(
            "DELETE FROM predictions_by_persona WHERE persona_id = ? AND model_version = ? AND bucket = ?",
            (_key(persona_id), model_version, bucket),
        )
