"""Face cards: what the image page shows of each face, kept in the image's ``faces_by_image`` partition.

The face tables stay the system of record (``faces``, ``labels_by_face``, ``predictions_by_face``); a
card is a copy that lets one read of the image's partition draw the whole page (migration 0006). The
repositories that write those tables write the card next to them:

- ``faces.upsert_many`` the box, detector, crop, embedding (migration 0012) and ``card_since`` (the card is
  complete from then on);
- ``labels.write`` / ``labels.remove`` one entry of the verdict maps (element updates, so two labels of
  one face written at once both land);
- ``predictions`` the ``predicted_*`` columns.

Card writes are ``UPDATE``s: a write for a face whose row was deleted meanwhile (an erased image) leaves
a row without a box, which readers skip (:func:`is_face`). Rows without ``card_since`` (faces stored
before migration 0006) are read from the face tables instead (:func:`from_tables`) until the backfill
(``common/repositories/card_backfill.py``: ``persona-pipeline migrate`` when it applies 0006, or
``persona-pipeline backfill-cards``) writes their cards. Faces stored before 0012 have no embedding on their
card until the backfill copies it; a reclassification pass reads theirs from ``faces`` meanwhile.

A full reclassification pass reads the cards of one token range of image ids (:func:`scan_range`): every
face of each image together, with its labels, current prediction and embedding, in one paged read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from common.db import Database
from common.db.in_reads import in_statements
from common.db.point_reads import read_many

Statement = tuple[str, Sequence[Any]]

LABEL_CQL = (  # parameters: label_row(...)
    "UPDATE faces_by_image SET label_verdicts[?] = ?, label_users[?] = ? WHERE image_id = ? AND face_id = ?"
)
_DELETE_LABEL = "DELETE label_verdicts[?], label_users[?] FROM faces_by_image WHERE image_id = ? AND face_id = ?"
PREDICTION_CQL = (  # parameters: prediction_row(...)
    "UPDATE faces_by_image SET predicted_persona = ?, predicted_score = ?, predicted_distance = ?, "
    "predicted_version = ?, predicted_queue = ? WHERE image_id = ? AND face_id = ?"
)
CARDS_OF_IMAGE_CQL = "SELECT * FROM faces_by_image WHERE image_id = ?"
_WHOLE_CARD = (  # parameters: whole_card_statement(...)
    "UPDATE faces_by_image SET box_left = ?, box_top = ?, box_width = ?, box_height = ?, detector = ?, "
    "det_score = ?, crop_key = ?, label_verdicts = ?, label_users = ?, predicted_persona = ?, predicted_score = ?, "
    "predicted_distance = ?, predicted_version = ?, card_since = ? WHERE image_id = ? AND face_id = ?"
)
EMBEDDING_AT_CQL = "UPDATE faces_by_image USING TIMESTAMP ? SET embedding = ? WHERE image_id = ? AND face_id = ?"
_PASS_COLUMNS = (
    "token(image_id) AS image_token, image_id, face_id, box_left, card_since, label_verdicts, embedding, "
    "predicted_persona, predicted_score, predicted_distance, predicted_version, predicted_queue, cell_codebook"
)
_RANGE_CQL = f"SELECT {_PASS_COLUMNS} FROM faces_by_image WHERE token(image_id) > ? AND token(image_id) <= ?"
_IMAGE_CQL = f"SELECT {_PASS_COLUMNS} FROM faces_by_image WHERE image_id = ?"
_DELETE_PREDICTION = (
    "DELETE predicted_persona, predicted_score, predicted_distance, predicted_version, predicted_queue "
    "FROM faces_by_image "
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
    queue_version: int | None = None  # the review-queue partitions holding its row (None: model_version's)

    @property
    def queue(self) -> int:
        return self.queue_version if self.queue_version is not None else self.model_version


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
                   distance: float | None, model_version: int, queue_version: int | None = None) -> tuple:  # fmt: skip
    return persona_id, score, distance, model_version, queue_version, image_id, face_id


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


def from_tables(db: Database, face_ids: list[str]) -> dict[str, Card]:
    """The cards of faces as the tables of record have them (``faces``, ``labels_by_face``,
    ``predictions_by_face``): one round of concurrent IN reads. Faces that are gone are left out."""
    tables = ("faces", "labels_by_face", "predictions_by_face")
    statements = [s for table in tables for s in in_statements(f"SELECT * FROM {table} WHERE face_id IN ?", face_ids)]
    found: dict[str, tuple[list, list, list]] = {fid: ([], [], []) for fid in face_ids}
    chunks = len(statements) // len(tables) if statements else 0
    for index, rows in enumerate(db.concurrently(statements)):
        for row in rows:
            found[row.face_id][index // chunks].append(row)
    cards = {}
    for face_id, (face_rows, label_rows, prediction_rows) in found.items():
        if not face_rows:
            continue
        r, p = face_rows[0], prediction_rows[0] if prediction_rows else None
        cards[face_id] = Card(
            r.face_id, r.image_id, (r.box_left, r.box_top, r.box_width, r.box_height), r.detector or "",
            r.det_score, r.crop_key or "", [CardLabel(x.persona_id, x.verdict, x.labeled_by or "") for x in label_rows],
            None if p is None else CardPrediction(p.persona_id, p.score or 0.0, p.distance, p.model_version or 0),
        )  # fmt: skip
    return cards


def rows_of_image(db: Database, image_id: str) -> list[Any]:
    """The image's ``faces_by_image`` partition: its image card (static columns) and its faces' cards."""
    return list(db.execute(CARDS_OF_IMAGE_CQL, (image_id,)))


def whole_card_statement(card: Card, since: datetime) -> Statement:
    """The whole card written at once (every column, the label maps replaced): a backfill's write."""
    p = card.prediction
    return _WHOLE_CARD, (
        *card.box, card.detector, card.det_score, card.crop_key,
        {lab.persona_id: lab.verdict for lab in card.labels}, {lab.persona_id: lab.labeled_by for lab in card.labels},
        p.persona_id if p else None, p.score if p else None, p.distance if p else None, p.model_version if p else None,
        since, card.image_id, card.face_id,
    )  # fmt: skip


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
                                    row.predicted_version, getattr(row, "predicted_queue", None))  # fmt: skip
    return Card(
        row.face_id, row.image_id, (row.box_left, row.box_top, row.box_width, row.box_height), row.detector or "",
        row.det_score, row.crop_key or "",
        [CardLabel(pid, verdict, users.get(pid) or "") for pid, verdict in verdicts.items()], prediction,
    )  # fmt: skip


@dataclass(frozen=True)
class CardPresence:
    """Whether a ``faces_by_image`` row stands for a face, whether its card is written and has the embedding."""

    image_id: str
    face_id: str
    is_face: bool
    has_card: bool
    has_embedding: bool = True


def scan_presence(db: Database, page_size: int) -> Iterator[CardPresence]:
    """Every ``faces_by_image`` row, paged by the driver (a full-table read, for the card backfill)."""
    rows = db.execute("SELECT image_id, face_id, box_left, card_since, WRITETIME(embedding) AS embedding_written "
                      "FROM faces_by_image", fetch_size=page_size)  # fmt: skip
    for row in rows:
        if row.face_id is not None:  # an image's card alone (static columns, no face)
            yield CardPresence(row.image_id, row.face_id, is_face(row), row.card_since is not None,
                               row.embedding_written is not None)  # fmt: skip


@dataclass(frozen=True)
class PassFace:
    """What a reclassification pass needs of one face, from its card."""

    token: int  # token(image_id): the same for every face of an image
    image_id: str
    face_id: str
    has_card: bool  # False: a face stored before 0006, whose labels are not on its card (read labels_by_face)
    verdicts: dict[uuid.UUID, str]  # persona -> 'confirm' / 'reject' (the card's copy of labels_by_face)
    embedding: bytes | None  # None: stored before 0012 and not backfilled yet (read faces)
    prediction: CardPrediction | None
    cell_codebook: int | None = None  # the codebook of the index of all faces it is in (None: not indexed)


def _pass_face(row: Any) -> PassFace:
    prediction = None
    if row.predicted_version is not None:
        prediction = CardPrediction(row.predicted_persona, row.predicted_score or 0.0, row.predicted_distance,
                                    row.predicted_version, row.predicted_queue)  # fmt: skip
    return PassFace(row.image_token, row.image_id, row.face_id, row.card_since is not None,
                    dict(row.label_verdicts or {}), row.embedding or None, prediction,
                    row.cell_codebook)  # fmt: skip


def scan_range(db: Database, start: int, end: int, page_size: int) -> Iterator[PassFace]:
    """The faces of the images whose token lies in (start, end], in token order (an image's faces are
    consecutive), paged by the driver: memory stays at one page whatever the range holds."""
    for row in db.execute(_RANGE_CQL, (start, end), fetch_size=page_size):
        if row.face_id is not None and is_face(row):  # not an image card alone, nor a late write after a delete
            yield _pass_face(row)


def scan_tokens(db: Database, page_size: int, after: int | None = None) -> Iterator[int]:
    """token(image_id) of every ``faces_by_image`` row (with ``after``: of those above it), in token order:
    a paged read of the partition key only."""
    cql = "SELECT token(image_id) AS image_token FROM faces_by_image"
    if after is None:
        rows = db.execute(cql, fetch_size=page_size)
    else:
        rows = db.execute(f"{cql} WHERE token(image_id) > ?", (after,), fetch_size=page_size)
    for row in rows:
        yield row.image_token


def faces_of_images(db: Database, image_ids: Iterable[str]) -> list[PassFace]:
    """The faces of the given images (concurrent reads of their partitions), each image's together."""
    ids = list(dict.fromkeys(image_ids))
    found = read_many(db, _IMAGE_CQL, [(i,) for i in ids])
    return [_pass_face(r) for rows in found for r in rows if r.face_id is not None and is_face(r)]


CELL_CQL = "UPDATE faces_by_image SET cell_codebook = ?, cell = ? WHERE image_id = ? AND face_id = ?"


def cell_row(image_id: str, face_id: str, codebook: int, cell: int) -> tuple:
    """Parameters of ``CELL_CQL``: the face's place in the index of all faces (``face_cells``)."""
    return codebook, cell, image_id, face_id


def cells_of_image(db: Database, image_id: str) -> list[tuple[int, int, str]]:
    """(codebook, cell, face_id) of the image's indexed faces."""
    rows = db.execute("SELECT face_id, cell_codebook, cell FROM faces_by_image WHERE image_id = ?", (image_id,))
    return [(r.cell_codebook, r.cell, r.face_id) for r in rows
            if r.face_id is not None and r.cell_codebook is not None and r.cell is not None]  # fmt: skip


def embedding_copy_statement(image_id: str, face_id: str, embedding: bytes, written_us: int) -> Statement:
    """The face's embedding onto its card with the write time of the row it copies (a backfill's write): a
    delete since (an erase) has a later time and stands over the copy."""
    return EMBEDDING_AT_CQL, (written_us, embedding, image_id, face_id)
