"""Concurrent point reads of faces and labels (one partition per key: fast on Cassandra and Cosmos DB)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from cassandra.concurrent import execute_concurrent_with_args

from common.db import Database
from common.db.retry import call_with_backoff
from common.repositories import face_cards
from common.repositories.faces import decode_embedding
from common.repositories.labels import CONFIRM, REJECT


def read_many(db: Database, cql: str, keys: Sequence[Sequence[Any]], concurrency: int = 64) -> list[list]:
    """Rows of one prepared query per parameter tuple, in order."""
    if not keys:
        return []
    prepared = db.prepare(cql)

    def run() -> list[list]:
        out = []
        for ok, result in execute_concurrent_with_args(db.session, prepared, keys, concurrency=concurrency):
            if not ok:
                raise result
            out.append(list(result))
        return out

    return call_with_backoff(run, db.overload_retries)


@dataclass(frozen=True)
class FaceVector:
    face_id: str
    image_id: str
    embedding: np.ndarray
    embedder: str


def face_vectors(db: Database, face_ids: Iterable[str]) -> dict[str, FaceVector]:
    ids = list(dict.fromkeys(face_ids))
    rows = read_many(db, "SELECT face_id, image_id, embedding, embedder FROM faces WHERE face_id = ?",
                     [(f,) for f in ids])  # fmt: skip
    out: dict[str, FaceVector] = {}
    for found in rows:
        for r in found:
            out[r.face_id] = FaceVector(r.face_id, r.image_id or "", decode_embedding(r.embedding), r.embedder or "")
    return out


def face_ids_of_images(db: Database, image_ids: Iterable[str]) -> dict[str, list[str]]:
    ids = list(dict.fromkeys(image_ids))
    rows = read_many(db, "SELECT face_id, box_left FROM faces_by_image WHERE image_id = ?", [(i,) for i in ids])
    return {image_id: [r.face_id for r in found if face_cards.is_face(r)]
            for image_id, found in zip(ids, rows, strict=True)}  # fmt: skip


@dataclass
class FaceLabels:
    confirmed: uuid.UUID | None = None
    rejected: set[uuid.UUID] = field(default_factory=set)


def labels_of_faces(db: Database, face_ids: Iterable[str]) -> dict[str, FaceLabels]:
    ids = list(dict.fromkeys(face_ids))
    rows = read_many(db, "SELECT persona_id, verdict FROM labels_by_face WHERE face_id = ?", [(f,) for f in ids])
    out: dict[str, FaceLabels] = {}
    for face_id, found in zip(ids, rows, strict=True):
        labels = FaceLabels()
        for r in found:
            if r.verdict == CONFIRM:
                labels.confirmed = r.persona_id
            elif r.verdict == REJECT:
                labels.rejected.add(r.persona_id)
        out[face_id] = labels
    return out


def labels_by_persona_partitions(db: Database, persona_ids: Sequence[uuid.UUID], wanted: set[str],
                                 buckets: int) -> dict[str, FaceLabels]:  # fmt: skip
    """The labels of ``wanted`` faces, read as whole ``labels_by_persona`` partitions (few personas, many faces)."""
    keys = [(p, b) for p in persona_ids for b in range(buckets)]
    cql = "SELECT face_id, persona_id, verdict FROM labels_by_persona WHERE persona_id = ? AND bucket = ?"
    rows = read_many(db, cql, keys)
    out = {f: FaceLabels() for f in wanted}
    for found in rows:
        for r in found:
            labels = out.get(r.face_id)
            if labels is None:
                continue
            if r.verdict == CONFIRM:
                labels.confirmed = r.persona_id
            elif r.verdict == REJECT:
                labels.rejected.add(r.persona_id)
    return out
