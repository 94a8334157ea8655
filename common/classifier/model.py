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
* probabilities are a softmax over ``-d_P / T`` of the ``softmax_personas`` nearest allowed personas
  (10) plus an "unknown" class at ``-unknown_distance / T`` (T is fitted on held-out faces during
  evaluation). Farther personas get 0: counted, 100k personas each at e^-5 of the nearest one would
  outweigh it, and every face would be unknown;
* the prediction is unknown when ``d_P > unknown_distance`` or the
  probability is below ``min_probability``.

Predicting against many prototypes (``index_min_prototypes`` or more, 20k by default) does not scan
them all: an approximate index (:mod:`common.classifier.prototype_index`, built in ``fit`` and kept in
the pickle) finds each face's top-k prototypes; their personas are the *candidates*, measured exactly
against all their confirmed and rejected faces; the softmax runs over the nearest allowed candidates,
which are the nearest allowed personas whenever the index found them. Below the threshold, and for
evaluation, every prototype is scanned: that is exact and fast there.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from common.classifier.assignment import assign_within_groups
from common.classifier.prototype_index import PrototypeIndex

EMBEDDING_DIM = 128
DEFAULT_TEMPERATURE = 0.1
_CHUNK_CELLS = 4_000_000  # distance-matrix cells computed at once (bounded memory)
_MIN_ROWS = 256  # queries per matmul at least (a few rows per matmul wastes BLAS); prototypes are tiled instead
_GATHER_ROWS = 262_144  # candidate prototype rows gathered at once on the indexed path (2 x 128 MB)
INDEX_MIN_PROTOTYPES = 20_000  # from this many prototypes on, predict searches an index (below: exact scan)
INDEX_TOP_K = 32  # prototypes the index returns per face; their personas are the candidates
SOFTMAX_PERSONAS = 10  # personas (the nearest allowed ones) sharing the probability with unknown


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

    format_version = 1  # a pickle of this version without ``index`` still loads: it is built at first predict
    # class defaults: pickles made before the index existed lack these attributes
    index: PrototypeIndex | None = None
    index_min_prototypes = INDEX_MIN_PROTOTYPES
    index_top_k = INDEX_TOP_K
    softmax_personas = SOFTMAX_PERSONAS

    def __init__(self, unknown_distance: float = 0.6, min_probability: float = 0.35,
                 temperature: float = DEFAULT_TEMPERATURE, max_faces_per_persona: int = 500,
                 index_min_prototypes: int = INDEX_MIN_PROTOTYPES, index_top_k: int = INDEX_TOP_K,
                 softmax_personas: int = SOFTMAX_PERSONAS):  # fmt: skip
        self.unknown_distance = float(unknown_distance)
        self.min_probability = float(min_probability)
        self.temperature = float(temperature)
        self.max_faces_per_persona = int(max_faces_per_persona)
        self.index_min_prototypes = int(index_min_prototypes)
        self.index_top_k = int(index_top_k)
        self.softmax_personas = int(softmax_personas)
        self.index = None
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
            rejected_persona_ids: Sequence[uuid.UUID | str] = (),
            index_centroids: np.ndarray | None = None) -> OpenSetClassifier:  # fmt: skip
        """Learn the prototypes and rejections. ``index_centroids``: the lists of an earlier version's index,
        reused (see :meth:`PrototypeIndex.build`)."""
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
        keep = self._cap_per_persona(y, x)
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
        self.index = PrototypeIndex.build(self.prototypes, centroids=index_centroids) if self.uses_index else None
        return self

    def _cap_per_persona(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Row numbers to keep, by persona then row: at most ``max_faces_per_persona`` per persona. A bigger
        persona keeps the rows with the smallest hash of their embedding: a stable choice, so one more label
        changes at most one kept row (a scoped reclassification re-predicts only around changed prototypes).
        One sort, not one scan per persona (100k personas)."""
        order = np.argsort(y, kind="stable")
        _, starts, counts = np.unique(y[order], return_index=True, return_counts=True)
        keep = np.ones(len(order), bool)
        if len(counts) and counts.max(initial=0) > self.max_faces_per_persona:
            hashes = row_hashes(x)
            for start, count in zip(starts, counts, strict=True):
                if count > self.max_faces_per_persona:
                    rows = order[start : start + count]
                    picked = np.sort(np.argsort(hashes[rows], kind="stable")[: self.max_faces_per_persona])
                    keep[start : start + count] = False
                    keep[start + picked] = True
        return order[keep]

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
                                  self.max_faces_per_persona, self.index_min_prototypes, self.index_top_k,
                                  self.softmax_personas)  # fmt: skip
        clone.scale = self.scale
        clone.persona_ids = [self.persona_ids[i] for i in used]
        clone.prototypes = self.prototypes[~drop_p].copy()
        clone.prototype_labels = remap[labels].astype(np.int32)
        clone.starts = np.searchsorted(clone.prototype_labels, np.arange(len(used)))
        keep_r = ~drop_r & np.isin(self.rejected_labels, used)
        clone.rejected = self.rejected[keep_r].copy()
        clone.rejected_labels = remap[self.rejected_labels[keep_r]].astype(np.int32)
        if self.index is not None and len(self.index) == len(self.prototypes) and clone.uses_index:
            clone.index = self.index.subset(~drop_p)  # same lists, erased rows gone: never a candidate
        elif clone.uses_index:
            clone.index = PrototypeIndex.build(clone.prototypes)
        return clone

    # -------------------------------------------------------------- distances
    @property
    def n_personas(self) -> int:
        return len(self.persona_ids)

    def persona_distances(self, xn: np.ndarray, drop_prototype: np.ndarray | None = None) -> np.ndarray:
        """(n, personas) distance to each persona's nearest confirmed face (every prototype scanned).

        ``drop_prototype[i]`` (optional) is a prototype index left out for row i (leave-one-out)."""
        best = _nearest_per_group(xn, self.prototypes, self.starts, drop_prototype)
        return self._to_distance(best)

    def _to_distance(self, sims: np.ndarray) -> np.ndarray:
        """Cosine similarity of unit vectors -> distance on the embedder's scale (-inf: inf), in place on a copy."""
        d = np.asarray(sims, dtype=np.float32) * np.float32(-2.0)  # -inf -> inf, and it stays inf below
        d += np.float32(2.0)
        np.maximum(d, np.float32(0.0), out=d)
        np.sqrt(d, out=d)
        d *= np.float32(self.scale)
        return d

    def rejection_distances(self, xn: np.ndarray) -> np.ndarray:
        """(n, personas) distance to each persona's nearest rejected face (inf: none)."""
        out = np.full((len(xn), self.n_personas), np.inf, np.float32)
        if len(self.rejected) and len(xn):  # only the personas with a rejection are converted
            labels, starts = np.unique(self.rejected_labels, return_index=True)
            out[:, labels] = self._to_distance(_nearest_per_group(xn, self.rejected, starts))
        return out

    def allowed(self, dist: np.ndarray, rej: np.ndarray, exclude: Sequence[set] | None = None) -> np.ndarray:
        ok = ~(rej < dist) & np.isfinite(dist)
        for row, col in self._excluded(exclude):
            ok[row, col] = False
        return ok

    def _excluded(self, exclude: Sequence[set] | None) -> Iterator[tuple[int, int]]:
        """(row, persona column) of every persona a row must not be (``exclude``; unknown personas: moot)."""
        if not exclude:
            return
        index = {p: i for i, p in enumerate(self.persona_ids)}
        for row, personas in enumerate(exclude):
            for p in personas or ():
                col = index.get(str(p))
                if col is not None:
                    yield row, col

    def probabilities(self, dist: np.ndarray, ok: np.ndarray, temperature: float | None = None) -> np.ndarray:
        """(n, personas + 1) softmax over each row's ``softmax_personas`` nearest allowed personas (the
        others: 0) and unknown, the last column. Only those entries are computed (evaluation's rows span
        every persona: 2,000 x 10k in 0.14 s, not 1.1 s)."""
        t = np.float32(temperature or self.temperature)
        keep = max(1, self.softmax_personas)
        n, width = dist.shape
        masked = np.where(ok, dist, np.float32(np.inf))
        if width > keep:  # the keep-th smallest allowed distance of each row; ties are kept
            kth = np.partition(masked, keep - 1, axis=1)[:, keep - 1 : keep]
            kth = np.where(np.isfinite(kth), kth, np.finfo(np.float32).max)  # fewer allowed: all of them
            rows, cols = np.nonzero(masked <= kth)
        else:
            rows, cols = np.nonzero(np.isfinite(masked))
        logits = -masked[rows, cols] / t
        unknown = np.float32(-self.unknown_distance / t)
        top = np.full(n, unknown, np.float32)
        np.maximum.at(top, rows, logits)
        e = np.exp(logits - top[rows])
        e_unknown = np.exp(unknown - top)
        total = (np.bincount(rows, weights=e, minlength=n) + e_unknown).astype(np.float32)
        prob = np.zeros((n, width + 1), np.float32)
        prob[rows, cols] = e / total[rows]
        prob[:, -1] = e_unknown / total
        return prob

    def acceptable(self, dist: np.ndarray, prob: np.ndarray, ok: np.ndarray) -> np.ndarray:
        return ok & (dist <= self.unknown_distance) & (prob[:, :-1] >= self.min_probability)

    # ------------------------------------------------------------- prediction
    @property
    def uses_index(self) -> bool:
        """Whether predict searches the prototype index (enough prototypes) rather than scanning them all."""
        return len(self.prototypes) >= max(self.index_min_prototypes, 1)

    def predict(self, embeddings: np.ndarray, groups: Sequence[str] | None = None,
                exclude: Sequence[set] | None = None) -> list[PredictionResult]:  # fmt: skip
        """One result per row. ``groups``: image id per row (faces of one image get different personas);
        ``exclude``: per row, persona ids the face must not be (its human rejections)."""
        xn = normalize(embeddings)
        if len(xn) == 0:
            return []
        if self.uses_index:
            candidates, dist, rej = self.candidate_distances(xn)
            ok = ~(rej < dist) & np.isfinite(dist)
            for row, col in self._excluded(exclude):
                ok[row] &= candidates[row] != col
            return self.decide(dist, ok, groups, columns=candidates)
        dist = self.persona_distances(xn)
        ok = self.allowed(dist, self.rejection_distances(xn), exclude)
        return self.decide(dist, ok, groups)

    def prototype_index(self) -> PrototypeIndex:
        """The index over the prototypes; built here for a model pickled without one (or a stale one)."""
        if self.index is None or len(self.index) != len(self.prototypes):
            self.index = PrototypeIndex.build(self.prototypes)
        return self.index

    def candidate_distances(self, xn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(candidates, dist, rej), each (n, c): per row the candidate persona indices (ascending, -1 pads),
        the exact distance to each one's nearest confirmed face and to its nearest rejected face (inf: none)."""
        k = max(1, min(self.index_top_k, len(self.prototypes)))
        ids = self.prototype_index().search(self.prototypes, xn, k)
        labels = np.where(ids >= 0, self.prototype_labels[np.maximum(ids, 0)], -1)
        candidates = _distinct_per_row(labels)
        rows, cols = np.nonzero(candidates >= 0)
        personas = candidates[rows, cols]
        ends = np.append(self.starts[1:], len(self.prototypes))
        best = np.full(candidates.shape, -np.inf, np.float32)
        best[rows, cols] = _nearest_in_ranges(xn, rows, self.starts[personas], ends[personas], self.prototypes)
        rejected = np.full(candidates.shape, -np.inf, np.float32)
        if len(self.rejected):
            r_lo = np.searchsorted(self.rejected_labels, personas, side="left")
            r_hi = np.searchsorted(self.rejected_labels, personas, side="right")
            rejected[rows, cols] = _nearest_in_ranges(xn, rows, r_lo, r_hi, self.rejected)
        return candidates, self._to_distance(best), self._to_distance(rejected)

    def decide(self, dist: np.ndarray, ok: np.ndarray, groups: Sequence[str] | None = None,
               temperature: float | None = None,
               columns: np.ndarray | None = None) -> list[PredictionResult]:  # fmt: skip
        """Results from distances. Column c of row i is persona c, or ``columns[i, c]`` when given (the
        candidate personas of each row; -1 pads)."""
        prob = self.probabilities(dist, ok, temperature)
        accept = self.acceptable(dist, prob, ok)
        choice = np.where(accept.any(axis=1), np.argmax(np.where(accept, prob[:, :-1], -1.0), axis=1), -1)
        if groups is not None:
            if columns is None:
                choice = assign_within_groups(prob[:, :-1], accept, choice, groups)
            else:
                choice = _assign_candidates(prob[:, :-1], accept, choice, groups, columns)
        width = dist.shape[1]
        best = np.argmin(np.where(ok, dist, np.inf), axis=1) if width else np.zeros(len(dist), int)
        results = []
        for i, c in enumerate(choice):
            if c >= 0:
                persona = self.persona_ids[c if columns is None else columns[i, c]]
                results.append(PredictionResult(uuid.UUID(persona), float(prob[i, c]), float(dist[i, c])))
            else:
                d = float(dist[i, best[i]]) if width and np.isfinite(dist[i, best[i]]) else None
                results.append(PredictionResult(None, float(1.0 - prob[i, :-1].max(initial=0.0)), d))
        return results


def row_hashes(x: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row's float32 bytes (equal rows, equal hashes)."""
    words = np.ascontiguousarray(x, dtype=np.float32).view(np.uint64)
    projection = np.random.default_rng(0).integers(1, 2**31, size=words.shape[1], dtype=np.uint64)
    with np.errstate(over="ignore"):
        return (words * projection).sum(axis=1, dtype=np.uint64)


def _nearest_per_group(xn: np.ndarray, vectors: np.ndarray, starts: np.ndarray,
                       drop: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """(n, groups) highest similarity of each query to the vectors of each group (``vectors`` sorted by
    group, group g from ``starts[g]``). ``drop[i]`` (optional, -1: none) is a vector left out for row i.

    Tiled in both directions: at least ``_MIN_ROWS`` queries per matmul, vectors in blocks of whole
    groups, so a tile stays near ``_CHUNK_CELLS`` cells whatever the number of vectors."""
    n, m, g = len(xn), len(vectors), len(starts)
    best = np.full((n, g), -np.inf, np.float32)
    if n == 0 or m == 0 or g == 0:
        return best
    rows = max(_MIN_ROWS, _CHUNK_CELLS // m)
    blocks = _group_blocks(starts, m, max(1, _CHUNK_CELLS // rows))
    for lo in range(0, n, rows):
        q = xn[lo : lo + rows]
        dropped = None if drop is None else drop[lo : lo + rows]
        for g_lo, g_hi in blocks:
            c_lo = int(starts[g_lo])
            c_hi = int(starts[g_hi]) if g_hi < g else m
            sims = q @ vectors[c_lo:c_hi].T  # nearest = most similar (unit vectors)
            if dropped is not None:
                hit = np.flatnonzero((dropped >= c_lo) & (dropped < c_hi))
                sims[hit, dropped[hit] - c_lo] = -np.inf
            best[lo : lo + rows, g_lo:g_hi] = np.maximum.reduceat(sims, starts[g_lo:g_hi] - c_lo, axis=1)
    return best


def _group_blocks(starts: np.ndarray, total: int, width: int) -> list[tuple[int, int]]:
    """Consecutive group ranges [g_lo, g_hi) holding at most ``width`` vectors (or one group)."""
    blocks, g, count = [], 0, len(starts)
    while g < count:
        h = int(np.searchsorted(starts, starts[g] + width, side="right")) - 1
        h = count if starts[g] + width >= total else max(h, g + 1)
        blocks.append((g, h))
        g = h
    return blocks


def _distinct_per_row(labels: np.ndarray) -> np.ndarray:
    """Each row's distinct non-negative values, ascending, padded with -1 to the widest row."""
    top = np.iinfo(np.int32).max
    s = np.sort(np.where(labels >= 0, labels, top).astype(np.int64), axis=1)
    s[:, 1:][s[:, 1:] == s[:, :-1]] = top
    s.sort(axis=1)
    width = max(1, int((s != top).sum(axis=1).max(initial=0)))
    s = s[:, :width]
    return np.where(s == top, -1, s)


def _nearest_in_ranges(xn: np.ndarray, rows: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                       vectors: np.ndarray) -> np.ndarray:  # fmt: skip
    """Per pair j, the highest similarity of query ``rows[j]`` to ``vectors[lo[j]:hi[j]]`` (-inf: empty range).

    Gathers at most ``_GATHER_ROWS`` vector rows at once (bounded memory whatever the persona sizes)."""
    out = np.full(len(rows), -np.inf, np.float32)
    lengths = (hi - lo).astype(np.int64)
    pairs = np.flatnonzero(lengths > 0)
    if len(pairs) == 0:
        return out
    ends = np.cumsum(lengths[pairs])
    first = 0
    while first < len(pairs):
        before = int(ends[first - 1]) if first else 0
        last = max(first + 1, int(np.searchsorted(ends, before + _GATHER_ROWS, side="right")))
        sel = pairs[first:last]
        n_rows = lengths[sel]
        offsets = np.cumsum(n_rows) - n_rows
        index = np.repeat(lo[sel] - offsets, n_rows) + np.arange(int(n_rows.sum()))
        sims = np.einsum("ij,ij->i", vectors[index], xn[np.repeat(rows[sel], n_rows)])
        out[sel] = np.maximum.reduceat(sims, offsets)
        first = last
    return out


def _assign_candidates(prob: np.ndarray, accept: np.ndarray, choice: np.ndarray, groups: Sequence[str],
                       columns: np.ndarray) -> np.ndarray:  # fmt: skip
    """:func:`assign_within_groups` when each row has its own candidate columns (``columns[i, c]`` is the
    persona of column c of row i): a conflicting group is solved over the union of its rows' candidates."""
    if len(groups) != len(choice):
        raise ValueError("groups needs one entry per embedding")
    n = len(choice)
    persona = np.where(choice >= 0, columns[np.arange(n), np.maximum(choice, 0)], -1)
    members: dict[str, list[int]] = defaultdict(list)
    for row, group in enumerate(groups):
        members[group].append(row)
    out = choice.copy()
    for member_rows in members.values():
        chosen = persona[member_rows]
        chosen = chosen[chosen >= 0]
        if len(chosen) == len(np.unique(chosen)):
            continue  # no conflict
        rows = np.array(member_rows)
        cols, acc = columns[rows], accept[rows]
        union = np.unique(cols[acc])
        r, c = np.nonzero(acc)
        j = np.searchsorted(union, cols[r, c])
        sub_prob = np.zeros((len(rows), len(union)))
        sub_accept = np.zeros((len(rows), len(union)), bool)
        sub_prob[r, j], sub_accept[r, j] = prob[rows][r, c], True
        sub_choice = np.where(persona[rows] >= 0, np.searchsorted(union, persona[rows]), -1)
        assigned = assign_within_groups(sub_prob, sub_accept, sub_choice, ["group"] * len(rows))
        for row, a in zip(rows, assigned, strict=True):
            out[row] = int(np.flatnonzero(columns[row] == union[a])[0]) if a >= 0 else -1
    return out
