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
    """Labels of existing personas, joined with their faces' embeddings (deterministic order)."""
    personas = [p.persona_id for p in personas_repo.list_all(db)]
    labels = sorted(labels_repo.all_labels(db, personas), key=lambda lab: (str(lab.persona_id), lab.face_id))
    vectors = faces_repo.vectors(db, [lab.face_id for lab in labels])
    data = TrainingData()
    pos: list[np.ndarray] = []
    neg: list[np.ndarray] = []
    embedders: Counter = Counter()
    for label in labels:
        face = vectors.get(label.face_id)
        if face is None or face.embedding.shape != (EMBEDDING_DIM,) or not np.all(np.isfinite(face.embedding)):
            data.skipped.append(label.face_id)
            continue
        if label.verdict == labels_repo.CONFIRM:
            data.face_ids.append(label.face_id)
            data.persona_ids.append(label.persona_id)
            pos.append(face.embedding)
            embedders[face.embedder] += 1
        elif label.verdict == labels_repo.REJECT:
            data.rejected_face_ids.append(label.face_id)
            data.rejected_persona_ids.append(label.persona_id)
            neg.append(face.embedding)
    if data.skipped:
        log.warning("%d labeled faces have no usable embedding and are left out", len(data.skipped))
    if pos:
        data.embeddings = np.asarray(pos, np.float32)
    if neg:
        data.rejected_embeddings = np.asarray(neg, np.float32)
    data.embedder = ",".join(sorted(e for e in embedders if e)) or "unknown"
    return data
