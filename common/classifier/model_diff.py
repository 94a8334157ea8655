"""What changed between two classifier versions, for a scoped reclassification: the prototypes (confirmed
faces) and rejected faces one has and the other has not, each with its persona, and whether the two
versions measure distances and scores the same way.

A face's decision can change only near a changed vector: ``d_P(x)`` moves only for faces nearer to an
added or removed prototype of P than to P's other prototypes, P's exclusion only near a changed
rejection; and P weighs in a face's softmax only within a few temperatures of the unknown distance.
So the faces to re-predict are those within a radius of the changed vectors (docs/trainer-worker.md,
"Scoped reclassification"), provided the calibration (embedding scale, temperature, thresholds) is the
same: otherwise every score moves and a full pass is needed.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

import numpy as np

from common.classifier.model import EMBEDDING_DIM, OpenSetClassifier, row_hashes


@dataclass(frozen=True)
class ModelChange:
    vectors: np.ndarray  # (n, 128) unit rows: prototypes and rejected faces added or removed
    personas: frozenset[uuid.UUID]  # the personas they belong to

    @property
    def empty(self) -> bool:
        return len(self.vectors) == 0


def same_calibration(a: OpenSetClassifier, b: OpenSetClassifier, tolerance: float = 1e-9) -> bool:
    """Whether ``a`` and ``b`` turn the same distances into the same scores and decisions."""
    pairs = [(a.scale, b.scale), (a.temperature, b.temperature), (a.unknown_distance, b.unknown_distance),
             (a.min_probability, b.min_probability)]  # fmt: skip
    return all(abs(x - y) <= tolerance for x, y in pairs) and a.softmax_personas == b.softmax_personas


def changed(old: OpenSetClassifier, new: OpenSetClassifier) -> ModelChange:
    """The prototypes and rejected faces in one model and not the other (compared with their persona)."""
    parts: list[np.ndarray] = []
    personas: set[uuid.UUID] = set()
    for old_rows, old_labels, new_rows, new_labels in (
        (old.prototypes, old.prototype_labels, new.prototypes, new.prototype_labels),
        (old.rejected, old.rejected_labels, new.rejected, new.rejected_labels),
    ):
        old_keys = _keys(old_rows, old_labels, old.persona_ids)
        new_keys = _keys(new_rows, new_labels, new.persona_ids)
        gone = ~np.isin(old_keys, new_keys)
        added = ~np.isin(new_keys, old_keys)
        parts += [old_rows[gone], new_rows[added]]
        personas.update(uuid.UUID(old.persona_ids[i]) for i in np.unique(old_labels[gone]))
        personas.update(uuid.UUID(new.persona_ids[i]) for i in np.unique(new_labels[added]))
    vectors = np.concatenate(parts) if parts else np.zeros((0, EMBEDDING_DIM), np.float32)
    return ModelChange(np.ascontiguousarray(vectors, dtype=np.float32), frozenset(personas))


def _keys(rows: np.ndarray, labels: np.ndarray, persona_ids: list[str]) -> np.ndarray:
    """One 64-bit key per (persona, row): a hash of the persona id and of the row's bytes (equal rows of the
    same persona give equal keys in both models; unit rows are computed the same way from the same
    embedding)."""
    if len(rows) == 0:
        return np.zeros(0, np.uint64)
    persona_hash = np.array([_text_hash(p) for p in persona_ids], np.uint64)
    with np.errstate(over="ignore"):
        return row_hashes(rows) ^ (persona_hash[labels] * np.uint64(0x9E3779B97F4A7C15))


def _text_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
