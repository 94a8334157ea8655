"""The codebook of the index of all faces: built by a full pass's fan-out when there is none, or when the
corpus has outgrown it (four times the faces per cell it was built for), from a sample of faces read from
random token ranges of ``faces_by_image``. The pass that builds it indexes every face in it; when that
pass ends the codebook is complete (``face_cells.mark_complete``).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

import numpy as np

from common.classifier import face_cells as cells_math
from common.classifier.model import EMBEDDING_DIM, normalize
from common.db import Database
from common.infra.messages import TOKEN_MAX, TOKEN_MIN
from common.infra.settings import get_settings
from common.repositories import corpus_counters, face_cards, face_cells
from common.repositories import faces as faces_repo
from common.repositories.faces import decode_embedding
from trainer_worker.prediction_writes import forget_codebook

log = logging.getLogger(__name__)

SAMPLE_PER_CELL = 20  # sampled faces per cell (k-means needs a few per centroid)
MAX_SAMPLE = 40_000  # read once per codebook; k-means runs on at most SAMPLE_PER_CELL per cell of them
SAMPLE_RANGES = 32  # random token ranges the sample is read from
OUTGROWN = 4  # rebuild when cells hold this many times the faces they were sized for


def ensure_codebook(db: Database) -> int | None:
    """The codebook a full pass indexes faces into: the current one, or a new one (None: no face yet)."""
    settings = get_settings()
    book = face_cells.current(db)
    counted = corpus_counters.read(db, [corpus_counters.FACES]).get(corpus_counters.FACES, 0)
    if book is not None:
        faces = max(counted, book.corpus_faces)
        if len(book.centroids) >= cells_math.MAX_CELLS or faces <= OUTGROWN * settings.faces_per_cell * len(
            book.centroids
        ):
            return book.codebook
    sample = sample_faces(db, MAX_SAMPLE)
    faces = max(counted, sample.corpus_estimate)
    wanted = cells_math.cell_count(faces, settings.faces_per_cell)
    vectors = sample.embeddings[: SAMPLE_PER_CELL * wanted]
    if len(vectors) == 0:
        return book.codebook if book else None
    unit = normalize(vectors)
    centroids = cells_math.kmeans(unit, min(wanted, len(unit)))
    created = face_cells.create(db, centroids, len(unit), cells_math.spread(unit, centroids), faces)
    forget_codebook()
    log.info("codebook %s: %d cells from %d sampled faces (corpus: about %d faces)", created.codebook,
             len(centroids), len(unit), faces)  # fmt: skip
    return created.codebook


@dataclass(frozen=True)
class Sample:
    embeddings: np.ndarray  # (n, 128), in random order
    corpus_estimate: int  # faces in the whole table, from the sample's density on the token ring


def sample_faces(db: Database, wanted: int, seed: int | None = None) -> Sample:
    """About ``wanted`` embeddings from random token ranges (tokens are hashes: an unbiased sample), and the
    number of faces the table holds, estimated from how much of the ring the sample covered."""
    rng = random.Random(seed)
    per_range = max(1, wanted // SAMPLE_RANGES)
    span = (TOKEN_MAX - TOKEN_MIN) // SAMPLE_RANGES
    rows: list[np.ndarray] = []
    without: list[str] = []  # faces stored before 0012 (no embedding on their card): read from ``faces``
    counted, covered = 0, 0  # faces and ring span of the ranges that filled up (a density sample)
    seen: set[str] = set()  # a small corpus: the ranges run into each other
    for k in range(SAMPLE_RANGES):
        start = TOKEN_MIN + k * span + rng.randrange(max(span - 1, 1))
        for n, face in enumerate(face_cards.scan_range(db, start, TOKEN_MAX, per_range)):
            if face.face_id in seen:
                break
            if n >= per_range:
                counted, covered = counted + n, covered + (face.token - start)
                break
            seen.add(face.face_id)
            if face.embedding is not None:
                rows.append(decode_embedding(face.embedding))
            else:
                without.append(face.face_id)
    rows += [v.embedding for v in faces_repo.vectors(db, without).values()] if without else []
    embeddings = np.array([r for r in rows if r.shape == (EMBEDDING_DIM,)], np.float32).reshape(-1, EMBEDDING_DIM)
    np.random.default_rng(seed).shuffle(embeddings)
    # no range filled up: the corpus is small and the ranges together read about all of it
    estimate = round(counted * (TOKEN_MAX - TOKEN_MIN) / covered) if covered > 0 else len(seen)
    return Sample(embeddings, estimate)
