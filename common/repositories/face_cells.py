"""The index of every face's embedding (migration 0014): k-means cells of the unit embeddings, one
``face_cells`` partition per (codebook, cell), and the codebooks' centroids in ``face_cell_codebooks``.

A scoped reclassification asks "which faces lie within a radius of these changed prototypes?": it reads
the partitions of the cells nearest to each changed prototype (the maths is in
``common/classifier/face_cells.py``). Cosmos DB has no vector search; this needs only partition reads.

Writers: the reclassify worker indexes a face when it predicts it (new faces, and every face a full pass
reads that its card says is not indexed in the current codebook), and sets the face card's
``cell_codebook`` / ``cell`` (``face_cards.CELL_CQL``); a privacy erase deletes the rows of the faces it
erases (their embeddings), found from those card columns.
A face deleted otherwise (a re-extraction) leaves a row whose card is gone: readers drop it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from common.db import Database
from common.db.point_reads import read_many
from common.repositories import face_cards

_INSERT = "INSERT INTO face_cells (codebook, cell, face_id, image_id, embedding) VALUES (?, ?, ?, ?, ?)"
_MEMBERS = "SELECT face_id, image_id, embedding FROM face_cells WHERE codebook = ? AND cell = ?"


@dataclass(frozen=True)
class Codebook:
    codebook: int
    centroids: np.ndarray  # (cells, 128) float32, unit rows
    sampled: int
    margin: float  # the 95th percentile distance of a sampled face to its centroid (unit vectors)
    corpus_faces: int  # faces in the corpus when it was built (estimated from the sample)
    complete: bool  # a full pass indexed every face with it


@dataclass(frozen=True)
class Member:
    face_id: str
    image_id: str
    embedding: bytes


@dataclass(frozen=True)
class Placement:
    """Where one face goes in the index."""

    face_id: str
    image_id: str
    cell: int
    embedding: bytes


def current(db: Database) -> Codebook | None:
    """The newest codebook (the one faces are indexed in), or None before the first."""
    stamp = newest_stamp(db)
    return get(db, stamp[0]) if stamp else None


def newest_stamp(db: Database) -> tuple[int, object, object] | None:
    """(number, created_at, completed_at) of the newest codebook: a small read (a handful of short rows),
    to know whether a cached copy is still the current one."""
    rows = list(db.execute("SELECT codebook, created_at, completed_at FROM face_cell_codebooks"))
    if not rows:
        return None
    r = max(rows, key=lambda row: row.codebook)
    return r.codebook, r.created_at, r.completed_at


def get(db: Database, codebook: int) -> Codebook | None:
    r = db.one("SELECT * FROM face_cell_codebooks WHERE codebook = ?", (codebook,))
    if r is None:
        return None
    centroids = np.frombuffer(r.centroids, dtype=np.float32).reshape(r.cells, -1)
    return Codebook(r.codebook, centroids, r.sampled or 0, r.margin or 0.0, r.corpus_faces or 0,
                    r.completed_at is not None)  # fmt: skip


def create(db: Database, centroids: np.ndarray, sampled: int, margin: float, corpus_faces: int) -> Codebook:
    """A new codebook, numbered after the newest (IF NOT EXISTS: two creators never share a number)."""
    latest = current(db)
    number = (latest.codebook + 1) if latest else 1
    data = np.ascontiguousarray(centroids, dtype=np.float32)
    while True:
        applied = db.one("INSERT INTO face_cell_codebooks (codebook, cells, centroids, sampled, margin, corpus_faces, "
                         "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS",
                         (number, len(data), data.tobytes(), sampled, margin, corpus_faces,
                          datetime.now(UTC)))  # fmt: skip
        if applied is None or applied[0]:
            return Codebook(number, data, sampled, margin, corpus_faces, False)
        number += 1


def mark_complete(db: Database, codebook: int) -> None:
    db.execute("UPDATE face_cell_codebooks SET completed_at = ? WHERE codebook = ?", (datetime.now(UTC), codebook))


def put(db: Database, codebook: int, placements: list[Placement]) -> None:
    """Index faces: their cell rows, then their cards' pointer to them (a card says "indexed" only once
    its row exists). Idempotent."""
    if not placements:
        return
    db.execute_many(_INSERT, [(codebook, p.cell, p.face_id, p.image_id, p.embedding) for p in placements])
    db.execute_many(face_cards.CELL_CQL, [face_cards.cell_row(p.image_id, p.face_id, codebook, p.cell)
                                          for p in placements])  # fmt: skip


def members(db: Database, codebook: int, cells: Iterable[int]) -> list[Member]:
    """Every face indexed in the given cells (concurrent reads of their partitions)."""
    found = read_many(db, _MEMBERS, [(codebook, int(c)) for c in cells])
    return [Member(r.face_id, r.image_id, r.embedding) for rows in found for r in rows if r.embedding]


def delete_for_image(db: Database, image_id: str) -> int:
    """Remove the image's faces from the index (their embeddings: a privacy erase); returns how many."""
    entries = face_cards.cells_of_image(db, image_id)
    db.execute_many("DELETE FROM face_cells WHERE codebook = ? AND cell = ? AND face_id = ?", entries)
    return len(entries)
