"""Training data from human labels: confirmed faces are positives, rejections are negatives of their persona."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from common.classifier.model import EMBEDDING_DIM
from common.db import Database
from common.repositories import faces as faces_repo
from common.repositories import labels as labels_repo
from common.repositories import personas as personas_repo

log = logging.getLogger(__name__)

READ_CHUNK = 10_000  # faces read (concurrently) per round
EMBEDDER_SAMPLE = 1000  # confirmed faces whose embedder name is read


@dataclass
class TrainingData:
    face_ids: list[str] = field(default_factory=list)
    embeddings: np.ndarray = field(default_factory=lambda: np.zeros((0, EMBEDDING_DIM), np.float32))
    persona_ids: list[uuid.UUID] = field(default_factory=list)
    rejected_face_ids: list[str] = field(default_factory=list)
    rejected_embeddings: np.ndarray = field(default_factory=lambda: np.zeros((0, EMBEDDING_DIM), np.float32))
    rejected_persona_ids: list[uuid.UUID] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # labeled faces that are missing or malformed
    embedder: str = ""

    @property
    def label_counts(self) -> dict:
        confirmed = Counter(str(p) for p in self.persona_ids)
        rejected = Counter(str(p) for p in self.rejected_persona_ids)
        return {"confirmed": sum(confirmed.values()), "rejected": sum(rejected.values()),
                "personas": len(confirmed), "skipped": len(self.skipped),
                "per_persona": {p: {"confirmed": confirmed.get(p, 0), "rejected": rejected.get(p, 0)}
                                for p in sorted(set(confirmed) | set(rejected))}}  # fmt: skip

    def digest(self, params: dict) -> str:
        """Identifies the training input: same labels, faces and parameters -> same digest."""
        h = hashlib.sha256(repr(sorted(params.items())).encode())
        for verdict, ids, pids in (("c", self.face_ids, self.persona_ids),
                                   ("r", self.rejected_face_ids, self.rejected_persona_ids)):  # fmt: skip
            for face_id, persona in sorted(zip(ids, (str(p) for p in pids), strict=True)):
                h.update(f"{verdict}:{persona}:{face_id}\n".encode())
        return h.hexdigest()


def gather(db: Database) -> TrainingData:
    """Labels of existing personas, joined with their faces' embeddings (deterministic order).

    The labels come from one paged read of ``labels_by_persona``; the embeddings from concurrent ``IN``
    reads of ``faces``, ``READ_CHUNK`` faces at a time so that only one chunk's rows are held at once (100k
    labels: a few seconds, however many personas). The embedder names recorded with the version are those
    of up to ``EMBEDDER_SAMPLE`` evenly spaced confirmed faces."""
    personas = [p.persona_id for p in personas_repo.list_all(db)]
    labels = sorted(labels_repo.scan_for_training(db, personas), key=lambda lab: (str(lab.persona_id), lab.face_id))
    data = TrainingData()
    pos: list[np.ndarray] = []
    neg: list[np.ndarray] = []
    vectors: dict[str, np.ndarray] = {}
    for i, label in enumerate(labels):
        if i % READ_CHUNK == 0:
            vectors = _embeddings(db, [lab.face_id for lab in labels[i : i + READ_CHUNK]])
        embedding = vectors.get(label.face_id)
        if embedding is None or embedding.shape != (EMBEDDING_DIM,) or not np.all(np.isfinite(embedding)):
            data.skipped.append(label.face_id)
            continue
        if label.verdict == labels_repo.CONFIRM:
            data.face_ids.append(label.face_id)
            data.persona_ids.append(label.persona_id)
            pos.append(embedding)
        elif label.verdict == labels_repo.REJECT:
            data.rejected_face_ids.append(label.face_id)
            data.rejected_persona_ids.append(label.persona_id)
            neg.append(embedding)
    if data.skipped:
        log.warning("%d labeled faces have no usable embedding and are left out", len(data.skipped))
    if pos:
        data.embeddings = np.asarray(pos, np.float32)
    if neg:
        data.rejected_embeddings = np.asarray(neg, np.float32)
    data.embedder = _embedders(db, data.face_ids)
    return data


def _embeddings(db: Database, face_ids: list[str]) -> dict[str, np.ndarray]:
    """Face id -> embedding of those of ``face_ids`` that exist (one round of concurrent ``IN`` reads)."""
    return {face_id: faces_repo.decode_embedding(blob)
            for face_id, _image, blob, _written in faces_repo.embeddings_with_write_times(db, face_ids)}  # fmt: skip


def _embedders(db: Database, face_ids: list[str]) -> str:
    step = max(1, len(face_ids) // EMBEDDER_SAMPLE)
    found = faces_repo.vectors(db, face_ids[::step])
    return ",".join(sorted({v.embedder for v in found.values() if v.embedder})) or "unknown"
