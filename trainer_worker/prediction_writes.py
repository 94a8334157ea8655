"""Predict a list of faces (whole images) with the active model and write what changed: the one step that new
faces' batches, full-pass shards and scoped refreshes share (``trainer_worker.reclassify``,
``trainer_worker.scoped_refresh``).

Each prediction is stamped with the version that made it; its review-queue row goes into the partitions of
the current review-queue generation (``models_repo.queue_version``). Human labels are never written over
(confirmed faces are skipped), rejections and the same-image constraint are honoured, faces erased
meanwhile are skipped, and a face whose card already holds the same prediction is not written again. After
the writes the active version is read again: when another one became active meanwhile, the faces are
predicted again with it, so an older version never stays written over a newer one.

Every face read here is also put in the index of all faces (``face_cells``) when its card says it is not
in the current codebook yet: new faces as they are first predicted, older ones by the next full pass.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

import numpy as np
import redis

from common.classifier import face_cells as cells_math
from common.classifier import load_active
from common.classifier.active import ActiveClassifier
from common.classifier.model import EMBEDDING_DIM, normalize
from common.db import Database
from common.labeling.privacy_erase import erased_among
from common.repositories import corpus_counters, face_cards, face_cells, predictions
from common.repositories import faces as faces_repo
from common.repositories import labels as labels_repo
from common.repositories.face_cards import PassFace
from common.repositories.faces import decode_embedding, encode_embedding
from common.repositories.labels import FaceLabels
from common.repositories.models import active_version

log = logging.getLogger(__name__)

SAME_WITHIN = 1e-5  # scores and distances computed in batches of other sizes differ in the last float32 bits


class Mode(Enum):
    NEW = "new"  # new faces: their current rows (if any) are read and replaced
    FULL = "full"  # a full-pass shard: rows of older generations are dropped as whole partitions at the end
    SCOPED = "scoped"  # a scoped refresh: every changed face's old row is removed
    AUDIT = "audit"  # an audit pass: like scoped, and a face whose prediction is the same keeps its version


@dataclass(frozen=True)
class WriteResult:
    version: int | None
    predicted: int = 0  # predictions written
    labeled: int = 0  # faces confirmed by a human (never predicted)
    unchanged: int = 0  # faces whose card already held the same prediction
    decisions_changed: int = 0  # faces whose persona-or-unknown decision changed (a previous prediction existed)


def predict_and_write(db: Database, client: redis.Redis | None, classifier: ActiveClassifier,
                      found: list[PassFace], mode: Mode, generation: int) -> WriteResult:  # fmt: skip
    """Predict ``found`` (whole images) and write what changed; review-queue rows go to ``generation``."""
    if client is not None:  # erased while this task waited or ran: never written back (common.labeling.privacy_erase)
        erased = erased_among(client, [f.face_id for f in found])
        found = [f for f in found if f.face_id not in erased]
    embeddings = _embeddings(db, found)
    verdicts = _verdicts(db, found)
    usable = [f for f in found if f.face_id in embeddings]
    index_faces(db, usable, embeddings)
    confirmed_in_image: dict[str, set[uuid.UUID]] = {}
    for face in usable:
        if verdicts[face.face_id].confirmed is not None:
            confirmed_in_image.setdefault(face.image_id, set()).add(verdicts[face.face_id].confirmed)
    todo = [f for f in usable if verdicts[f.face_id].confirmed is None]
    labeled = len(usable) - len(todo)
    written = unchanged = decisions = 0
    kinds = {f.face_id: _kind(f.prediction.persona_id) if f.prediction else None for f in todo}  # for the counters
    for attempt in range(3):
        new = _predict(classifier, todo, embeddings, verdicts, confirmed_in_image, generation)
        if attempt == 0:
            changed = [p for p, f in zip(new, todo, strict=True)
                       if not _same(p, f.prediction, any_version=mode is Mode.AUDIT)]  # fmt: skip
            decisions = sum(1 for p, f in zip(new, todo, strict=True)
                            if f.prediction is not None and p.persona_id != f.prediction.persona_id)  # fmt: skip
            previous = {f.face_id: _as_prediction(f) for f in todo if f.prediction is not None
                        and (mode is not Mode.FULL or f.prediction.queue == generation)}  # fmt: skip
            if mode is Mode.NEW:  # faces stored before cards (0006): their prediction is read from its table
                previous.update(_predictions_of(db, [f.face_id for f in todo if not f.has_card]))
            predictions.put_many(db, changed, previous=previous)
            written, unchanged = len(changed), len(new) - len(changed)
        else:  # a repair: the rows written a moment ago are read back and replaced
            changed = new
            predictions.put_many(db, new, replace_old=True)
            written += len(new)
        changes = [(kinds[p.face_id], _kind(p.persona_id)) for p in changed]
        corpus_counters.add_many(db, corpus_counters.prediction_deltas(changes))
        kinds.update((p.face_id, _kind(p.persona_id)) for p in changed)
        now_active = active_version(db)
        if now_active is None or now_active == classifier.version:
            break
        fresh = load_active(db, max_age=0)
        if fresh is None or fresh.version == classifier.version:
            break
        log.info("v%s became active while v%s predicted %d faces: predicting them again", fresh.version,
                 classifier.version, len(todo))  # fmt: skip
        classifier = fresh
    return WriteResult(classifier.version, written, labeled, unchanged, decisions)


# ------------------------------------------------------------------ the index of all faces
_codebook_cache: tuple[object, face_cells.Codebook | None] = (None, None)


def current_codebook(db: Database) -> face_cells.Codebook | None:
    """The newest codebook; its centroids are read again only when it changed (a small read each call)."""
    global _codebook_cache
    stamp = face_cells.newest_stamp(db)
    if stamp is None:
        return None
    cached_stamp, book = _codebook_cache
    if book is None or cached_stamp != stamp:
        book = face_cells.get(db, stamp[0])
        _codebook_cache = (stamp, book)
    return book


def forget_codebook() -> None:
    global _codebook_cache
    _codebook_cache = (None, None)


def index_faces(db: Database, faces: list[PassFace], embeddings: dict[str, np.ndarray]) -> int:
    """Put the faces not yet in the current codebook into it; returns how many."""
    book = current_codebook(db)
    if book is None:
        return 0
    todo = [f for f in faces if f.cell_codebook != book.codebook and f.face_id in embeddings]
    if not todo:
        return 0
    unit = normalize(np.stack([embeddings[f.face_id] for f in todo]))
    cells = cells_math.assign(unit, book.centroids)
    face_cells.put(db, book.codebook, [
        face_cells.Placement(f.face_id, f.image_id, int(c), encode_embedding(embeddings[f.face_id]))
        for f, c in zip(todo, cells, strict=True)])  # fmt: skip
    return len(todo)


# ------------------------------------------------------------------ helpers
def _predict(classifier: ActiveClassifier, todo: list[PassFace], embeddings: dict[str, np.ndarray],
             verdicts: dict[str, FaceLabels], confirmed_in_image: dict[str, set[uuid.UUID]],
             generation: int) -> list[predictions.Prediction]:  # fmt: skip
    if not todo:
        return []
    matrix = np.stack([embeddings[f.face_id] for f in todo])
    groups = [f.image_id for f in todo]
    exclude = [verdicts[f.face_id].rejected | confirmed_in_image.get(f.image_id, set()) for f in todo]
    results = classifier.predict(matrix, groups=groups, exclude=exclude)
    now = datetime.now(UTC)
    return [predictions.Prediction(f.face_id, r.persona_id, r.score, r.distance, classifier.version, f.image_id, now,
                                   generation) for f, r in zip(todo, results, strict=True)]  # fmt: skip


def _embeddings(db: Database, found: list[PassFace]) -> dict[str, np.ndarray]:
    """Face id -> embedding: from the cards; from ``faces`` for cards not backfilled yet (before 0012)."""
    out = {f.face_id: decode_embedding(f.embedding) for f in found if f.embedding is not None}
    missing = [f.face_id for f in found if f.embedding is None]
    if missing:
        out.update((face_id, v.embedding) for face_id, v in faces_repo.vectors(db, missing).items())
    return {face_id: e for face_id, e in out.items() if e.shape == (EMBEDDING_DIM,)}


def _verdicts(db: Database, found: list[PassFace]) -> dict[str, FaceLabels]:
    """Face id -> its human labels: the card's copy; ``labels_by_face`` for faces without a card (before 0006)."""
    out: dict[str, FaceLabels] = {}
    for face in found:
        labels = FaceLabels()
        for persona_id, verdict in face.verdicts.items():
            labels.add(persona_id, verdict)
        out[face.face_id] = labels
    without_card = [f.face_id for f in found if not f.has_card]
    if without_card:
        out.update(labels_repo.of_faces(db, without_card))
    return out


def _close(a: float | None, b: float | None) -> bool:
    return (a is None) == (b is None) and (a is None or b is None or abs(a - b) <= SAME_WITHIN)


def _same(new: predictions.Prediction, card: face_cards.CardPrediction | None, any_version: bool = False) -> bool:
    """The card already shows this prediction, in the same review-queue generation (nothing to write); with
    ``any_version``, whichever version made it."""
    return (card is not None and (new.persona_id, new.queue) == (card.persona_id, card.queue)
            and (any_version or new.model_version == card.model_version)
            and _close(new.score, card.score) and _close(new.distance, card.distance))  # fmt: skip


def _kind(persona_id: uuid.UUID | None) -> str:
    return corpus_counters.prediction_kind(persona_id)


def _predictions_of(db: Database, face_ids: list[str]) -> dict[str, predictions.Prediction]:
    found = {face_id: predictions.for_face(db, face_id) for face_id in face_ids}
    return {face_id: p for face_id, p in found.items() if p is not None}


def _as_prediction(face: PassFace) -> predictions.Prediction:
    p = face.prediction
    assert p is not None
    return predictions.Prediction(face.face_id, p.persona_id, p.score, p.distance, p.model_version, face.image_id,
                                  queue_version=p.queue_version)  # fmt: skip
