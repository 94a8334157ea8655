"""The open-set face classifier: nearest confirmed face per persona, with rejections and an unknown class.

Embeddings are L2-normalised, then measured on the embedder's own scale (the
median norm of the training embeddings: about 1.41 for dlib), so the familiar
"different people are farther than 0.6" threshold keeps its meaning.

For a face ``x`` and a persona ``P``:

* ``d_P(x)`` = distance to the nearest confirmed face of P;
* P is *excluded* when a face rejected for P is nearer to ``x`` than any
  confirmed face of P (1-NN between P's positives and negatives): a rejected
  face itself is therefore never predicted as P, and faces around it are
  pushed away from P;
* probabilities are a softmax over ``-d_P / T`` plus an "unknown" class at
  ``-unknown_distance / T`` (T is fitted on held-out faces during evaluation);
* the prediction is unknown when ``d_P > unknown_distance`` or the
  probability is below ``min_probability``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from common.classifier.assignment import assign_within_groups

EMBEDDING_DIM = 128
DEFAULT_TEMPERATURE = 0.1
_CHUNK_CELLS = 4_000_000  # distance-matrix cells computed at once (bounded memory)


@dataclass(frozen=True)
class PredictionResult:
    persona_id: uuid.UUID | None  # None: unknown
    score: float  # probability of the persona (for unknown: 1 - best persona's probability)
    distance: float | None  # to the nearest confirmed face of the best persona


class TrainingDataError(ValueError):
    """The labels cannot make a model (no confirmed face, wrong embedding size)."""


def normalize(embeddings: np.ndarray) -> np.ndarray:
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or (x.size and x.shape[1] != EMBEDDING_DIM):
        raise TrainingDataError(f"embeddings must have shape (n, {EMBEDDING_DIM}), got {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class OpenSetClassifier:
    """Plain numpy state (joblib-friendly); persona ids stored as strings."""

    format_version = 1

    def __init__(self, unknown_distance: float = 0.6, min_probability: float = 0.35,
                 temperature: float = DEFAULT_TEMPERATURE, max_faces_per_persona: int = 500):  # fmt: skip
        self.unknown_distance = float(unknown_distance)
        self.min_probability = float(min_probability)
        self.temperature = float(temperature)
        self.max_faces_per_persona = int(max_faces_per_persona)
        self.persona_ids: list[str] = []
        self.scale = 1.0
        self.prototypes = np.zeros((0, EMBEDDING_DIM), np.float32)
        self.prototype_labels = np.zeros(0, np.int32)
        self.starts = np.zeros(0, np.int64)
        self.rejected = np.zeros((0, EMBEDDING_DIM), np.float32)
        self.rejected_labels = np.zeros(0, np.int32)

    # ---------------------------------------------------------------- training
    def fit(self, embeddings: np.ndarray, persona_ids: Sequence[uuid.UUID | str],
            rejected_embeddings: np.ndarray | None = None,
            rejected_persona_ids: Sequence[uuid.UUID | str] = ()) -> OpenSetClassifier:  # fmt: skip
        raw = np.asarray(embeddings, dtype=np.float32)
        if len(raw) == 0:
            raise TrainingDataError("at least one confirmed face is needed to train")
        if len(raw) != len(persona_ids):
            raise TrainingDataError("one persona id per embedding is needed")
        x = normalize(raw)
        self.scale = float(np.median(np.linalg.norm(raw, axis=1))) or 1.0
        labels = [str(p) for p in persona_ids]
        self.persona_ids = sorted(set(labels))
        index = {p: i for i, p in enumerate(self.persona_ids)}
        y = np.array([index[p] for p in labels], dtype=np.int32)
        keep = self._cap_per_persona(y)
        order = keep[np.argsort(y[keep], kind="stable")]
        self.prototypes, self.prototype_labels = x[order], y[order]
        self.starts = np.searchsorted(self.prototype_labels, np.arange(len(self.persona_ids)))
        rejected_ids = [str(p) for p in rejected_persona_ids]
        mask = [p in index for p in rejected_ids]  # rejections of personas with no confirmed face: moot
        if rejected_embeddings is not None and any(mask):
            r = normalize(np.asarray(rejected_embeddings, dtype=np.float32)[np.array(mask)])
            ry = np.array([index[p] for p, m in zip(rejected_ids, mask, strict=True) if m], dtype=np.int32)
            order_r = np.argsort(ry, kind="stable")
            self.rejected, self.rejected_labels = r[order_r], ry[order_r]
        return self

    def _cap_per_persona(self, y: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(0)
        keep: list[np.ndarray] = []
        for label in np.unique(y):
            members = np.flatnonzero(y == label)
            if len(members) > self.max_faces_per_persona:
                members = np.sort(rng.choice(members, self.max_faces_per_persona, replace=False))
            keep.append(members)
        return np.concatenate(keep)

    # ---------------------------------------------------------------- erasure
    def rows_matching(self, erased: np.ndarray, tolerance: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
        """(prototype mask, rejected mask): stored rows equal to any of the ``erased`` embeddings (raw or
        normalised; compared as unit vectors)."""
        e = normalize(erased) if len(erased) else np.zeros((0, EMBEDDING_DIM), np.float32)

        def hits(rows: np.ndarray) -> np.ndarray:
            if len(rows) == 0 or len(e) == 0:
                return np.zeros(len(rows), bool)
            return (rows @ e.T).max(axis=1) >= 1.0 - tolerance

        return hits(self.prototypes), hits(self.rejected)

    def holds_any(self, erased: np.ndarray) -> bool:
        prototypes, rejected = self.rows_matching(erased)
        return bool(prototypes.any() or rejected.any())

    def without(self, erased: np.ndarray) -> OpenSetClassifier:
        """A copy that no longer holds the ``erased`` embeddings (a privacy erase): their prototype and
        rejection rows are dropped, and so is a persona left without any confirmed face."""
        drop_p, drop_r = self.rows_matching(erased)
        labels = self.prototype_labels[~drop_p]
        used = np.unique(labels)
        remap = np.full(max(self.n_personas, 1), -1, np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        clone = OpenSetClassifier(self.unknown_distance, self.min_probability, self.temperature,
                                  self.max_faces_per_persona)  # fmt: skip
        clone.scale = self.scale
        clone.persona_ids = [self.persona_ids[i] for i in used]
        clone.prototypes = self.prototypes[~drop_p].copy()
        clone.prototype_labels = remap[labels].astype(np.int32)
        clone.starts = np.searchsorted(clone.prototype_labels, np.arange(len(used)))
        keep_r = ~drop_r & np.isin(self.rejected_labels, used)
        clone.rejected = self.rejected[keep_r].copy()
        clone.rejected_labels = remap[self.rejected_labels[keep_r]].astype(np.int32)
        return clone

    # -------------------------------------------------------------- distances
    @property
    def n_personas(self) -> int:
        return len(self.persona_ids)

    def persona_distances(self, xn: np.ndarray, drop_prototype: np.ndarray | None = None) -> np.ndarray:
        """(n, personas) distance to each persona's nearest confirmed face.

        ``drop_prototype[i]`` (optional) is a prototype index left out for row i (leave-one-out)."""
        n, m = len(xn), len(self.prototypes)
        best = np.empty((n, self.n_personas), np.float32)
        step = max(1, _CHUNK_CELLS // max(m, 1))
        for lo in range(0, n, step):
            sims = xn[lo : lo + step] @ self.prototypes.T  # nearest = most similar (unit vectors)
            if drop_prototype is not None:
                rows = np.arange(sims.shape[0])
                cols = drop_prototype[lo : lo + step]
                valid = cols >= 0
                sims[rows[valid], cols[valid]] = -np.inf
            best[lo : lo + step] = np.maximum.reduceat(sims, self.starts, axis=1)
        return self._to_distance(best)

    def _to_distance(self, sims: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            d = np.sqrt(np.maximum(2.0 - 2.0 * sims, 0.0)) * self.scale
        return np.where(np.isneginf(sims), np.inf, d).astype(np.float32)

    def rejection_distances(self, xn: np.ndarray) -> np.ndarray:
        """(n, personas) distance to each persona's nearest rejected face (inf: none)."""
        best = np.full((len(xn), self.n_personas), -np.inf, np.float32)
        if len(self.rejected) == 0:
            return self._to_distance(best)
        labels, starts = np.unique(self.rejected_labels, return_index=True)
        step = max(1, _CHUNK_CELLS // len(self.rejected))
        for lo in range(0, len(xn), step):
            sims = xn[lo : lo + step] @ self.rejected.T
            best[lo : lo + step, labels] = np.maximum.reduceat(sims, starts, axis=1)
        return self._to_distance(best)

    def allowed(self, dist: np.ndarray, rej: np.ndarray, exclude: Sequence[set] | None = None) -> np.ndarray:
        ok = ~(rej < dist) & np.isfinite(dist)
        if exclude:
            index = {p: i for i, p in enumerate(self.persona_ids)}
            for row, personas in enumerate(exclude):
                for p in personas or ():
                    col = index.get(str(p))
                    if col is not None:
                        ok[row, col] = False
        return ok

    def probabilities(self, dist: np.ndarray, ok: np.ndarray, temperature: float | None = None) -> np.ndarray:
        """(n, personas + 1) softmax; the last column is unknown."""
        t = temperature or self.temperature
        logits = np.where(ok, -dist / t, -np.inf)
        unknown = np.full((len(dist), 1), -self.unknown_distance / t, np.float32)
        z = np.concatenate([logits, unknown], axis=1)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def acceptable(self, dist: np.ndarray, prob: np.ndarray, ok: np.ndarray) -> np.ndarray:
        return ok & (dist <= self.unknown_distance) & (prob[:, :-1] >= self.min_probability)

    # ------------------------------------------------------------- prediction
    def predict(self, embeddings: np.ndarray, groups: Sequence[str] | None = None,
                exclude: Sequence[set] | None = None) -> list[PredictionResult]:  # fmt: skip
        """One result per row. ``groups``: image id per row (faces of one image get different personas);
        ``exclude``: per row, persona ids the face must not be (its human rejections)."""
        xn = normalize(embeddings)
        if len(xn) == 0:
            return []
        dist = self.persona_distances(xn)
        ok = self.allowed(dist, self.rejection_distances(xn), exclude)
        return self.decide(dist, ok, groups)

    def decide(self, dist: np.ndarray, ok: np.ndarray, groups: Sequence[str] | None = None,
               temperature: float | None = None) -> list[PredictionResult]:  # fmt: skip
        prob = self.probabilities(dist, ok, temperature)
        accept = self.acceptable(dist, prob, ok)
        choice = np.where(accept.any(axis=1), np.argmax(np.where(accept, prob[:, :-1], -1.0), axis=1), -1)
        if groups is not None:
            choice = assign_within_groups(prob[:, :-1], accept, choice, groups)
        best = np.argmin(np.where(ok, dist, np.inf), axis=1) if self.n_personas else np.zeros(len(dist), int)
        results = []
        for i, c in enumerate(choice):
            if c >= 0:
                results.append(PredictionResult(uuid.UUID(self.persona_ids[c]), float(prob[i, c]), float(dist[i, c])))
            else:
                d = float(dist[i, best[i]]) if self.n_personas and np.isfinite(dist[i, best[i]]) else None
                results.append(PredictionResult(None, float(1.0 - prob[i, :-1].max(initial=0.0)), d))
        return results
