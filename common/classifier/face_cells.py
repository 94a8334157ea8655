"""The maths of the index of all faces (stored by ``common/repositories/face_cells.py``): k-means cells of
unit embeddings, a face's cell, and which cells a radius query must read.

Why cells in Cassandra rather than a FAISS index of every face in the blob store (measured, see
docs/trainer-worker.md): every extract/reclassify worker adds faces at once, and a cell row is one
idempotent write with no single writer; a FAISS file would need one process to own it, and its
vectors alone are 512 MB at 1M faces and 5 GB at 10M, loaded by whoever queries it. A scoped pass reads a
few cells (a few partitions) per changed prototype.

A radius query around ``q`` reads the cells whose centroid is within ``radius + margin`` of ``q``, nearest
first, at most ``max_cells`` of them, and never fewer than ``min_cells``. ``margin`` is the spread of the
cells (the 95th percentile distance of a face to its centroid, measured at build time): a face within the
radius of ``q`` whose centroid is farther than that is rare, and what a scoped pass misses a full pass
finds (it reports how many decisions it changed).
"""

from __future__ import annotations

import numpy as np

from common.classifier.model import normalize

KMEANS_ITERATIONS = 12
MIN_CELLS = 16
MAX_CELLS = 2048  # 1 MB of centroids: one codebook row stays far under Cosmos DB's 2 MB


def cell_count(faces: int, faces_per_cell: int) -> int:
    """Cells for a corpus of ``faces``: about ``faces_per_cell`` each, within [MIN_CELLS, MAX_CELLS]."""
    return int(min(MAX_CELLS, max(MIN_CELLS, round(faces / max(faces_per_cell, 1)))))


def kmeans(sample: np.ndarray, cells: int, seed: int = 27) -> np.ndarray:
    """(cells, 128) unit centroids of ``sample`` (spherical k-means, Lloyd's iterations from a random
    choice of rows). Fewer rows than cells: the rows themselves."""
    x = normalize(sample)
    rng = np.random.default_rng(seed)
    if len(x) <= cells:
        return x.copy()
    centroids = x[rng.choice(len(x), cells, replace=False)].copy()
    for _ in range(KMEANS_ITERATIONS):
        assigned = assign(x, centroids)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assigned, x)
        counts = np.bincount(assigned, minlength=cells)
        empty = counts == 0
        if empty.any():  # an empty cell restarts at a random row
            sums[empty] = x[rng.choice(len(x), int(empty.sum()), replace=False)]
        centroids = normalize(sums)
    return centroids


def assign(unit: np.ndarray, centroids: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Each unit row's nearest centroid (highest cosine), in chunks (bounded memory)."""
    out = np.empty(len(unit), np.int32)
    for lo in range(0, len(unit), chunk):
        out[lo : lo + chunk] = np.argmax(unit[lo : lo + chunk] @ centroids.T, axis=1)
    return out


def unit_distance(scaled: float, scale: float) -> float:
    """A distance on the embedder's scale (the classifier's) as a distance between unit vectors."""
    return float(scaled) / max(float(scale), 1e-12)


def cells_to_read(queries: np.ndarray, centroids: np.ndarray, radius: float, margin: float, min_cells: int,
                  max_cells: int) -> np.ndarray:  # fmt: skip
    """The cells (sorted, distinct) a radius query around each unit row of ``queries`` reads: centroids
    within ``radius + margin`` (unit-vector distances), nearest first, between ``min_cells`` and
    ``max_cells`` per query."""
    if len(queries) == 0 or len(centroids) == 0:
        return np.zeros(0, np.int32)
    picked: set[int] = set()
    reach = radius + margin
    for lo in range(0, len(queries), 1024):
        sims = queries[lo : lo + 1024] @ centroids.T
        dist = np.sqrt(np.maximum(2.0 - 2.0 * sims, 0.0))
        order = np.argsort(dist, axis=1)[:, : max(min_cells, max_cells)]
        for row, cells in zip(dist, order, strict=True):
            near = cells[row[cells] <= reach][:max_cells]
            picked.update(int(c) for c in (near if len(near) >= min_cells else cells[:min_cells]))
    return np.array(sorted(picked), np.int32)


def spread(unit: np.ndarray, centroids: np.ndarray) -> float:
    """The 95th percentile distance of the rows to their nearest centroid (the margin of a radius query)."""
    if len(unit) == 0:
        return 0.0
    sims = np.array([float(unit[i] @ centroids[c]) for i, c in enumerate(assign(unit, centroids))])
    return float(np.percentile(np.sqrt(np.maximum(2.0 - 2.0 * sims, 0.0)), 95))


def within(unit: np.ndarray, queries: np.ndarray, radius: float) -> np.ndarray:
    """Mask of the rows of ``unit`` within ``radius`` (unit-vector distance) of any query row."""
    hit = np.zeros(len(unit), bool)
    if len(unit) == 0 or len(queries) == 0:
        return hit
    threshold = 1.0 - radius * radius / 2.0  # |a - b|^2 = 2 - 2 cos for unit vectors
    for lo in range(0, len(queries), 512):
        hit |= (unit @ queries[lo : lo + 512].T).max(axis=1) >= threshold
    return hit
