"""After a promotion, refresh the predictions the new version can change, and only those (issue 27).

The two versions are compared (``common.classifier.model_diff``): prototypes and rejected faces added or
removed. A face's decision can change only within the unknown distance (plus ``PP_SCOPED_RADIUS_MARGIN``)
of one of them, so the index of all faces (``face_cells``) is asked for the faces within that radius; their
images are read whole (the same-image constraint) and re-predicted with the active version. The other faces
keep their prediction and the version that made it.

A full pass runs instead when scoped reasoning cannot bound the change: no previous version (or its
artifact is gone), another calibration (embedding scale, temperature, thresholds: refitted every
``PP_CALIBRATION_MAX_AGE_HOURS``), another embedder, no index yet, or more than ``PP_SCOPED_MAX_SHARE`` of
the faces in range (when that is more than ``ALWAYS_SCOPED_FACES``: a small corpus is always refreshed
here). A refresh always runs to its end, even when a newer version became active meanwhile (it predicts
with the active one): the newer version's own refresh covers only what *it* changed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import redis

from common.classifier import face_cells as cells_math
from common.classifier import load_active, registry
from common.classifier.model import OpenSetClassifier, normalize
from common.classifier.model_diff import changed, same_calibration
from common.db import Database
from common.infra import metrics
from common.infra.messages import Send
from common.infra.reclassify_passes import latest_pass
from common.infra.settings import get_settings
from common.repositories import corpus_counters, face_cards, face_cells, refreshes
from common.repositories import models as models_repo
from common.repositories.faces import decode_embedding
from trainer_worker.prediction_writes import Mode, current_codebook, predict_and_write
from trainer_worker.reclassify import FULL, reclassify_all, record_refreshed

log = logging.getLogger(__name__)

IMAGES_PER_CHUNK = 250
MIN_CELLS = 2  # cells read per changed vector at least
MAX_CELLS = 16  # and at most
MAX_READ_FACES = 200_000  # faces (with their embeddings: ~100 MB) a refresh reads from the index at most
ALWAYS_SCOPED_FACES = 10_000  # this many faces in range are re-predicted by the refresh itself, whatever their share


@dataclass(frozen=True)
class RefreshResult:
    kind: str  # scoped | full | none (not active and another calibration: that version's full pass covers it)
    reason: str
    faces_in_radius: int = 0
    faces_read: int = 0
    predicted: int = 0
    decisions_changed: int = 0


def refresh_predictions(db: Database, client: redis.Redis, version: int, previous: int | None, send: Send,
                        pass_id: str | None = None) -> RefreshResult:  # fmt: skip
    """Refresh after ``version`` replaced ``previous``: scoped when it can be bounded, else a full pass."""
    settings = get_settings()
    active = models_repo.active_version(db)
    if active is None:
        return RefreshResult("none", "no active version")
    new = registry.load_model(db, version)
    why, old = _why_not_scoped(db, client, version, previous, new)
    if old is not None:
        result = _scoped(db, client, version, previous, old, new, settings.scoped_radius_margin,
                         settings.scoped_max_share)  # fmt: skip
        if result is not None:
            return result
        why = f"more than {settings.scoped_max_share:.0%} of the faces are in range"
    if version != active:
        return RefreshResult("none", f"v{active} is active now; its own refresh covers v{version}'s changes ({why})")
    log.info("full pass for v%s: %s", version, why)
    reclassify_all(db, client, version, send, pass_id=pass_id, kind=FULL, previous=previous)
    return RefreshResult(FULL, why)


def _why_not_scoped(db: Database, client: redis.Redis, version: int, previous: int | None,
                    new: OpenSetClassifier) -> tuple[str, OpenSetClassifier | None]:  # fmt: skip
    """('', the previous model) when a scoped refresh is sound; else (why a full pass is needed, None)."""
    if not get_settings().scoped_refresh:
        return "PP_SCOPED_REFRESH is off", None
    if previous is None or previous == version:
        return "no previous version", None
    old_mv, new_mv = models_repo.get_version(db, previous), models_repo.get_version(db, version)
    if old_mv is None or new_mv is None or not old_mv.artifact_key:
        return f"v{previous} is gone", None
    if old_mv.embedder != new_mv.embedder:
        return f"another embedder ({old_mv.embedder} -> {new_mv.embedder})", None
    book = current_codebook(db)
    if book is None:
        return "no index of the faces yet", None
    if not book.complete:
        running = latest_pass(client)
        if running is None or running.finished_at is not None:
            return f"codebook {book.codebook} is not complete and no full pass is indexing the faces", None
    try:
        old = registry.load_model(db, previous)
    except Exception as exc:  # pruned, or its artifact is missing or tampered with
        return f"v{previous} cannot be loaded ({exc})", None
    if not same_calibration(old, new):
        return "another calibration (embedding scale, temperature or thresholds)", None
    return "", old


def _scoped(db: Database, client: redis.Redis, version: int, previous: int | None, old: OpenSetClassifier,
            new: OpenSetClassifier, margin: float, max_share: float) -> RefreshResult | None:  # fmt: skip
    """Re-predict the images of the faces within the radius of a changed vector; None: too many of them."""
    change = changed(old, new)
    refreshes.started(db, version, previous, "scoped", set(change.personas))
    if change.empty:
        refreshes.finished(db, version, 0)
        return RefreshResult("scoped", "no prototype or rejection changed")
    book = current_codebook(db)
    assert book is not None
    radius = cells_math.unit_distance(new.unknown_distance + margin, new.scale)
    cells = cells_math.cells_to_read(normalize(change.vectors), book.centroids, radius, book.margin, MIN_CELLS,
                                     MAX_CELLS)  # fmt: skip
    total = max(corpus_counters.read(db, [corpus_counters.FACES]).get(corpus_counters.FACES, 0), book.corpus_faces)
    if len(cells) * total / max(len(book.centroids), 1) > max(MAX_READ_FACES, max_share * total):
        return None  # reading those cells would hold too many embeddings at once
    members = face_cells.members(db, book.codebook, cells)
    hits = _within(members, change.vectors, radius)
    if len(hits) > max(max_share * total, ALWAYS_SCOPED_FACES):
        return None
    images = list(dict.fromkeys(m.image_id for m in hits))
    predicted = decisions = read = 0
    for lo in range(0, len(images), IMAGES_PER_CHUNK):
        found = face_cards.faces_of_images(db, images[lo : lo + IMAGES_PER_CHUNK])
        classifier = load_active(db)
        if classifier is None:
            break
        generation = models_repo.queue_version(db) or classifier.version
        outcome = predict_and_write(db, client, classifier, found, Mode.SCOPED, generation)
        predicted, decisions = predicted + outcome.predicted, decisions + outcome.decisions_changed
        read += len(found)
    refreshes.finished(db, version, read, decisions)
    metrics.record_reclassified("scoped", predicted)
    record_refreshed(db, version)
    log.info("scoped refresh of v%s: %d changed vectors of %d personas, %d cells, %d faces in range, %d faces "
             "read, %d predictions written, %d decisions changed", version, len(change.vectors),
             len(change.personas), len(cells), len(hits), read, predicted, decisions)  # fmt: skip
    return RefreshResult("scoped", f"{len(change.vectors)} changed vectors", len(hits), read, predicted, decisions)


def _within(members: list[face_cells.Member], vectors: np.ndarray, radius: float) -> list[face_cells.Member]:
    if not members:
        return []
    unit = normalize(np.stack([decode_embedding(m.embedding) for m in members]))
    mask = cells_math.within(unit, normalize(vectors), radius)
    return [m for m, hit in zip(members, mask, strict=True) if hit]
