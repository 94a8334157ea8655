"""Faces with their embeddings; ids derive from image id + box.

A face is written to ``faces`` (by face id, the row of record) and, in the same unlogged batch, to its card
in its image's ``faces_by_image`` partition (``common.repositories.face_cards``), embedding included
(migration 0012): a full reclassification pass reads token ranges of ``faces_by_image`` only."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from common.db import Database
from common.db.in_reads import in_statements
from common.db.point_reads import read_many
from common.repositories import corpus_counters, face_cards, read_model

EMBEDDING_DTYPE = np.dtype("<f4")


@dataclass(frozen=True)
class Face:
    face_id: str
    image_id: str
    box: tuple[int, int, int, int]  # left, top, width, height in original-image pixels
    detector: str
    det_score: float | None
    embedding: np.ndarray
    embedder: str
    crop_key: str
    created_at: datetime | None = None
    vanished_at: datetime | None = None  # re-extraction no longer finds this (labeled) face; kept, flagged


@dataclass(frozen=True)
class FaceVector:
    """A face's embedding with what reclassification needs besides (no box, no crop)."""

    face_id: str
    image_id: str
    embedding: np.ndarray
    embedder: str


@dataclass(frozen=True)
class FaceCrop:
    """What a face card shows of a face: its image, box and crop (no embedding: the bulk of a face row)."""

    face_id: str
    image_id: str
    box: tuple[int, int, int, int]
    crop_key: str


def encode_embedding(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=EMBEDDING_DTYPE).tobytes()


def decode_embedding(blob: bytes | None) -> np.ndarray:
    return np.frombuffer(blob or b"", dtype=EMBEDDING_DTYPE).astype(np.float64)


def _face(r) -> Face:
    return Face(
        r.face_id, r.image_id, (r.box_left, r.box_top, r.box_width, r.box_height), r.detector or "",
        r.det_score, decode_embedding(r.embedding), r.embedder or "", r.crop_key or "", r.created_at,
        getattr(r, "vanished_at", None),
    )  # fmt: skip


# A batch's mutations stay under 4 kB (Cassandra warns above batch_size_warn_threshold, 5 kB): a face row and
# its card take about 800 bytes besides the embedding, which both carry (migration 0012); measured: 4 faces
# with 128-d embeddings in both rows, about 7.3 kB, so a batch holds 2 faces.
BATCH_BYTES = 4096
FACE_ROWS_BYTES = 800
EMBEDDING_COPIES = 2  # faces.embedding and its card's (faces_by_image.embedding)


def _batches(found: list[Face]) -> Iterator[list[Face]]:
    batch: list[Face] = []
    size = 0
    for face in found:
        cost = FACE_ROWS_BYTES + EMBEDDING_COPIES * EMBEDDING_DTYPE.itemsize * int(np.size(face.embedding))
        if batch and size + cost > BATCH_BYTES:
            yield batch
            batch, size = [], 0
        batch.append(face)
        size += cost
    if batch:
        yield batch


def upsert(db: Database, face: Face) -> None:
    """Idempotent: the same face id always carries the same content."""
    upsert_many(db, [face])


def upsert_many(db: Database, found: list[Face]) -> None:
    """Faces with their by-image index rows, in unlogged batches (a few requests instead of two per face)."""
    for batch in _batches(found):
        statements = []
        for face in batch:
            left, top, width, height = face.box
            statements.append((
                "INSERT INTO faces (face_id, image_id, box_left, box_top, box_width, box_height, detector, "
                "det_score, embedding, embedder, crop_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    face.face_id, face.image_id, left, top, width, height, face.detector, face.det_score,
                    encode_embedding(face.embedding), face.embedder, face.crop_key,
                    face.created_at or datetime.now(UTC),
                ),
            ))  # fmt: skip
            statements.append((  # the face's card (common.repositories.face_cards): labels come later
                "INSERT INTO faces_by_image (image_id, face_id, box_left, box_top, box_width, box_height, detector, "
                "det_score, crop_key, embedding, card_since) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (face.image_id, face.face_id, left, top, width, height, face.detector, face.det_score, face.crop_key,
                 encode_embedding(face.embedding), face.created_at or datetime.now(UTC)),
            ))  # fmt: skip
        db.unlogged_batch(statements)
    if found:
        read_model.changed(db)


def get(db: Database, face_id: str) -> Face | None:
    row = db.one("SELECT * FROM faces WHERE face_id = ?", (face_id,))
    return _face(row) if row else None


def get_many(db: Database, face_ids: list[str]) -> dict[str, Face]:
    out: dict[str, Face] = {}
    for face_id in dict.fromkeys(face_ids):
        face = get(db, face_id)
        if face is not None:
            out[face_id] = face
    return out


def get_many_concurrently(db: Database, face_ids: list[str]) -> dict[str, Face]:
    """Many faces at once (concurrent single-partition reads, all in flight together: a page's worth)."""
    ids = list(dict.fromkeys(face_ids))
    if not ids:
        return {}
    stmt = db.prepare("SELECT * FROM faces WHERE face_id = ?")
    futures = [db.session.execute_async(stmt.bind((fid,))) for fid in ids]
    out: dict[str, Face] = {}
    for fid, future in zip(ids, futures, strict=True):
        row = future.result().one()
        if row is not None:
            out[fid] = _face(row)
    return out


def crops(db: Database, face_ids: list[str]) -> dict[str, FaceCrop]:
    """Face id -> what its card shows, for the faces that exist: one round of concurrent ``IN`` reads."""
    cql = "SELECT face_id, image_id, box_left, box_top, box_width, box_height, crop_key FROM faces WHERE face_id IN ?"
    return {
        r.face_id: FaceCrop(r.face_id, r.image_id, (r.box_left, r.box_top, r.box_width, r.box_height), r.crop_key or "")
        for rows in db.concurrently(in_statements(cql, face_ids))
        for r in rows
    }


def vectors(db: Database, face_ids: Iterable[str]) -> dict[str, FaceVector]:
    """Face id -> embedding of the faces that exist (concurrent point reads, a bounded number in flight)."""
    ids = list(dict.fromkeys(face_ids))
    rows = read_many(db, "SELECT face_id, image_id, embedding, embedder FROM faces WHERE face_id = ?",
                     [(f,) for f in ids])  # fmt: skip
    return {r.face_id: _vector(r) for found in rows for r in found}


def _vector(r) -> FaceVector:
    return FaceVector(r.face_id, r.image_id or "", decode_embedding(r.embedding), r.embedder or "")


def count(db: Database) -> int:
    """Every face (a full-table ``COUNT(*)``: slow, for counts kept off the request path)."""
    return db.one("SELECT COUNT(*) AS n FROM faces").n


_IDS_OF_IMAGE_CQL = "SELECT face_id, box_left FROM faces_by_image WHERE image_id = ?"  # rows: face_cards.is_face


def ids_for_image(db: Database, image_id: str) -> list[str]:
    rows = db.execute(_IDS_OF_IMAGE_CQL, (image_id,))
    return [r.face_id for r in rows if face_cards.is_face(r)]


def ids_of_images(db: Database, image_ids: Iterable[str]) -> dict[str, list[str]]:
    """Image id -> its face ids (concurrent reads of the images' ``faces_by_image`` partitions)."""
    ids = list(dict.fromkeys(image_ids))
    rows = read_many(db, _IDS_OF_IMAGE_CQL, [(i,) for i in ids])
    return {image_id: [r.face_id for r in found if face_cards.is_face(r)]
            for image_id, found in zip(ids, rows, strict=True)}  # fmt: skip


def for_image(db: Database, image_id: str) -> list[Face]:
    return list(get_many(db, ids_for_image(db, image_id)).values())


def scan(db: Database, page_size: int = 1000) -> Iterator[Face]:
    """Every face, paged by the driver (a full-table read)."""
    for row in db.execute("SELECT * FROM faces", fetch_size=page_size):
        yield _face(row)


def set_vanished(db: Database, face_id: str, at: datetime | None) -> None:
    """Flag (or, with None, unflag) a face that re-extraction no longer finds."""
    db.execute("UPDATE faces SET vanished_at = ? WHERE face_id = ?", (at, face_id))
    read_model.changed(db)


def delete(db: Database, image_id: str, face_id: str) -> None:
    db.execute("DELETE FROM faces WHERE face_id = ?", (face_id,))
    db.execute("DELETE FROM faces_by_image WHERE image_id = ? AND face_id = ?", (image_id, face_id))
    corpus_counters.add(db, corpus_counters.FACES, -1)  # callers delete a face they read
    read_model.changed(db)


def delete_for_image(db: Database, image_id: str) -> list[str]:
    ids = ids_for_image(db, image_id)
    for face_id in ids:
        db.execute("DELETE FROM faces WHERE face_id = ?", (face_id,))
    db.execute("DELETE FROM faces_by_image WHERE image_id = ?", (image_id,))
    corpus_counters.add(db, corpus_counters.FACES, -len(ids))  # the ids were read: they existed
    read_model.changed(db)
    return ids


def embeddings_with_write_times(db: Database, face_ids: list[str]) -> list[tuple[str, str, bytes, int]]:
    """(face id, image id, embedding, its write time in µs) of the faces that exist: one round of concurrent
    ``IN`` reads (for copying embeddings onto cards)."""
    cql = "SELECT face_id, image_id, embedding, WRITETIME(embedding) AS written FROM faces WHERE face_id IN ?"
    return [(r.face_id, r.image_id, r.embedding, r.written)
            for rows in db.concurrently(in_statements(cql, face_ids)) for r in rows
            if r.image_id and r.embedding and r.written is not None]  # fmt: skip
