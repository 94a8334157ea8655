"""An approximate nearest-neighbour index over a classifier's prototypes, so predict need not scan them all.

At 1M prototypes an exact scan costs about 1M x 128 multiply-adds per face (a few hundred faces/s);
this index finds the top-k most similar prototypes of each face by looking at only a few of its
clusters. The classifier then re-ranks those candidates exactly (model.py), so the index only has to
*find* the right personas, not measure them.

The index is FAISS IVF-flat with inner product (the prototypes are unit vectors): spherical k-means
centroids ("lists") and, per prototype, the list it belongs to. Only those two arrays are stored, a
few MB inside the classifier's pickle and so under the artifact's one checksum; the vectors are the
classifier's own prototypes, and the FAISS structure is rebuilt from them in about a second when the
first search needs it. IVF-flat was chosen by measurement over FAISS HNSW and usearch HNSW
(docs/trainer-worker.md, "Predicting against many prototypes"): it builds ~5x faster and finds the
nearest persona more often at equal speed on clustered face embeddings.

FAISS is imported on first use (:func:`faiss_module`), not with this module: only models of at least
``INDEX_MIN_PROTOTYPES`` use it, and loading its native libraries raised the peak memory of every process
that imports the classifier (the web app's ``/predict`` of the largest accepted image: 506 -> 606 MB,
``tests/reliability/test_hostile_input.py``).
"""

from __future__ import annotations

import functools
import importlib
import math
import threading
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import faiss

DEFAULT_NPROBE_FRACTION = 512  # search nlist / 512 lists (8 of 4096 at 1M prototypes) ...
MIN_NPROBE = 8  # ... and never fewer than this
_TRAIN_POINTS_PER_LIST = 40  # FAISS wants >= 39 training points per centroid
_KMEANS_ITERATIONS = 10


@functools.cache
def faiss_module() -> ModuleType:
    """The FAISS module, loaded the first time an index is built or searched."""
    return importlib.import_module("faiss")


def default_nlist(n: int) -> int:
    """About 4 * sqrt(n) lists, a power of two (4096 at 1M prototypes), at most one per 39 prototypes."""
    if n <= 0:
        return 1
    target = 2 ** round(math.log2(max(4.0 * math.sqrt(n), 1.0)))
    return int(max(1, min(target, 16384, n // 39 or 1)))


class PrototypeIndex:
    """Top-k inner-product search over a fixed set of unit vectors (the ones given to :meth:`build`).

    Picklable: the state is the centroids, each vector's list and ``nprobe``; the FAISS index itself
    is rebuilt lazily from the vectors passed to :meth:`search`."""

    def __init__(self, centroids: np.ndarray, assignment: np.ndarray, nprobe: int):
        self.centroids = np.ascontiguousarray(centroids, dtype=np.float32)
        self.assignment = np.ascontiguousarray(assignment, dtype=np.int32)
        self.nprobe = int(nprobe)
        self._faiss: faiss.IndexIVFFlat | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ build
    @classmethod
    def build(cls, vectors: np.ndarray, nlist: int | None = None, nprobe: int | None = None,
              seed: int = 0, centroids: np.ndarray | None = None) -> PrototypeIndex:  # fmt: skip
        """Cluster ``vectors`` (n, d) unit vectors into ``nlist`` lists by spherical k-means on a sample; or,
        given ``centroids`` (an earlier version's lists), only put each vector in its list. Reused lists keep
        a face's search the same from one version to the next except where prototypes changed, which a scoped
        refresh relies on (trainer_worker/calibration.py)."""
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        n, d = x.shape
        if centroids is not None and centroids.ndim == 2 and centroids.shape[1] == d and len(centroids):
            fixed = np.ascontiguousarray(centroids, dtype=np.float32)
            probe = max(MIN_NPROBE, len(fixed) // DEFAULT_NPROBE_FRACTION) if nprobe is None else nprobe
            return cls(fixed, _assign(fixed, x), min(int(probe), len(fixed)))
        nlist = default_nlist(n) if nlist is None else max(1, min(int(nlist), n))
        rng = np.random.default_rng(seed)
        sample_size = min(n, nlist * _TRAIN_POINTS_PER_LIST)
        sample = x if sample_size == n else x[np.sort(rng.choice(n, sample_size, replace=False))]
        kmeans = faiss_module().Kmeans(d, nlist, niter=_KMEANS_ITERATIONS, spherical=True, seed=seed, verbose=False,
                              max_points_per_centroid=_TRAIN_POINTS_PER_LIST)  # fmt: skip
        kmeans.cp.min_points_per_centroid = 1  # small sets: no warning, the lists are just small
        kmeans.train(sample)
        centroids = kmeans.centroids.astype(np.float32)
        if nprobe is None:
            nprobe = max(MIN_NPROBE, nlist // DEFAULT_NPROBE_FRACTION)
        return cls(centroids, _assign(centroids, x), min(int(nprobe), nlist))

    def subset(self, keep: np.ndarray) -> PrototypeIndex:
        """The index of ``vectors[keep]`` (same lists; the dropped vectors are simply gone)."""
        return PrototypeIndex(self.centroids, self.assignment[np.asarray(keep, bool)], self.nprobe)

    def __len__(self) -> int:
        return len(self.assignment)

    @property
    def nlist(self) -> int:
        return len(self.centroids)

    # ----------------------------------------------------------------- search
    def search(self, vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
        """(n, k) int64 row numbers in ``vectors`` of the approximately most similar ones to each query,
        most similar first; -1 pads rows with fewer than k found. ``vectors`` are the ones built from."""
        if len(vectors) != len(self.assignment):
            raise ValueError(f"index built over {len(self.assignment)} vectors, given {len(vectors)}")
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if len(q) == 0 or len(vectors) == 0:
            return np.full((len(q), k), -1, np.int64)
        index = self._ready(vectors)
        _, ids = index.search(q, k)
        return ids

    def _ready(self, vectors: np.ndarray) -> faiss.IndexIVFFlat:
        with self._lock:
            if self._faiss is None:
                x = np.ascontiguousarray(vectors, dtype=np.float32)
                quantizer = faiss_module().IndexFlatIP(self.centroids.shape[1])
                quantizer.add(self.centroids)
                fx = faiss_module()
                index = fx.IndexIVFFlat(quantizer, self.centroids.shape[1], self.nlist, fx.METRIC_INNER_PRODUCT)
                index.is_trained = True
                lists = self.assignment.astype(np.int64)
                index.add_core(len(x), faiss_module().swig_ptr(x), None, faiss_module().swig_ptr(lists))
                index.nprobe = self.nprobe
                self._quantizer = quantizer  # the IVF index does not own it: keep it alive
                self._faiss = index
            return self._faiss

    # ------------------------------------------------------------ pickling
    def __getstate__(self) -> dict:
        return {"centroids": self.centroids, "assignment": self.assignment, "nprobe": self.nprobe}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["centroids"], state["assignment"], state["nprobe"])


def _assign(centroids: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The list (most similar centroid) of every vector."""
    quantizer = faiss_module().IndexFlatIP(centroids.shape[1])
    quantizer.add(centroids)
    _, lists = quantizer.search(x, 1)
    return lists[:, 0].astype(np.int32)
