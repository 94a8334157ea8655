"""Face cards: what the image page shows of each face, kept in the image's ``faces_by_image`` partition.

The face tables stay the system of record (``faces``, ``labels_by_face``, ``predictions_by_face``); a
card is a copy that lets one read of the image's partition draw the whole page (migration 0006). The
repositories that write those tables write the card next to them:

- ``faces.upsert_many`` the box, detector, crop and ``card_since`` (the card is complete from then on);
- ``labels.write`` / ``labels.remove`` one entry of the verdict maps (element updates, so two labels of
  one face written at once both land);
- ``predictions`` the ``predicted_*`` columns.

Card writes are ``UPDATE``s: a write for a face whose row was deleted meanwhile (an erased image) leaves
a row without a box, which readers skip (:func:`is_face`). Rows without ``card_since`` (faces stored
before migration 0006) are read from the face tables instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from common.db import Database

Statement = tuple[str, Sequence[Any]]

LABEL_CQL = (  # parameters: label_row(...)
    "UPDATE faces_by_image SET label_verdicts[?] = ?, label_users[?] = ? WHERE image_id = ? AND face_id = ?"
)
_DELETE_LABEL = "DELETE label_verdicts[?], label_users[?] FROM faces_by_image WHERE image_id = ? AND face_id = ?"
PREDICTION_CQL = (  # parameters: prediction_row(...)
    "UPDATE faces_by_image SET predicted_persona = ?, predicted_score = ?, predicted_distance = ?, "
    "predicted_version = ? WHERE image_id = ? AND face_id = ?"
)
CARDS_OF_IMAGE_CQL = "SELECT * FROM faces_by_image WHERE image_id = ?"
_DELETE_PREDICTION = (
    "DELETE predicted_persona, predicted_score, predicted_distance, predicted_version FROM faces_by_image "
    "WHERE image_id = ? AND face_id = ?"
)


@dataclass(frozen=True)
class CardLabel:
    persona_id: uuid.UUID
    verdict: str
    labeled_by: str


@dataclass(frozen=True)
class CardPrediction:
    persona_id: uuid.UUID | None  # None: unknown
    score: float
    distance: float | None
    model_version: int


@dataclass(frozen=True)
class Card:
    face_id: str
    image_id: str
    box: tuple[int, int, int, int]
    detector: str
    det_score: float | None
    crop_key: str
    labels: list[CardLabel] = field(default_factory=list)
    prediction: CardPrediction | None = None


def label_row(image_id: str, face_id: str, persona_id: uuid.UUID, verdict: str, user: str) -> tuple:
    return persona_id, verdict, persona_id, user, image_id, face_id


def label_statement(image_id: str, face_id: str, persona_id: uuid.UUID, verdict: str, user: str) -> Statement:
    return LABEL_CQL, label_row(image_id, face_id, persona_id, verdict, user)


def unlabel_statement(image_id: str, face_id: str, persona_id: uuid.UUID) -> Statement:
    return _DELETE_LABEL, (persona_id, persona_id, image_id, face_id)


def prediction_row(image_id: str, face_id: str, persona_id: uuid.UUID | None, score: float,
                   distance: float | None, model_version: int) -> tuple:  # fmt: skip
    return persona_id, score, distance, model_version, image_id, face_id


def clear_prediction_statement(image_id: str, face_id: str) -> Statement:
    return _DELETE_PREDICTION, (image_id, face_id)


def image_ids(db: Database, face_ids: Iterable[str]) -> dict[str, str]:
    """Face id -> image id, for writers that know only the face (concurrent single-row reads)."""
    ids = list(dict.fromkeys(face_ids))
    results = db.concurrently([("SELECT image_id FROM faces WHERE face_id = ?", (f,)) for f in ids])
    return {face_id: rows[0].image_id for face_id, rows in zip(ids, results, strict=True) if rows and rows[0].image_id}


def image_of(db: Database, face_id: str) -> str | None:
    """The image of one face (None when the face is gone)."""
    return image_ids(db, [face_id]).get(face_id)


def is_face(row: Any) -> bool:
    """A ``faces_by_image`` row that stands for a stored face (not a late card write after its deletion)."""
    return row.box_left is not None


def has_card(row: Any) -> bool:
    return row.card_since is not None and is_face(row)


def from_row(row: Any) -> Card:
    verdicts = row.label_verdicts or {}
    users = row.label_users or {}
    prediction = None
    if row.predicted_version is not None:
        prediction = CardPrediction(row.predicted_persona, row.predicted_score or 0.0, row.predicted_distance,
                                    row.predicted_version)  # fmt: skip
    return Card(
        row.face_id, row.image_id, (row.box_left, row.box_top, row.box_width, row.box_height), row.detector or "",
        row.det_score, row.crop_key or "",
        [CardLabel(pid, verdict, users.get(pid) or "") for pid, verdict in verdicts.items()], prediction,
    )  # fmt: skip
