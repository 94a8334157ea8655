"""Re-extract an image (optionally with another detector) without losing human work.

A new box overlapping an old face (IoU > 0.5) keeps that face's id, so its
labels, predictions and history stay attached. Old faces no longer found are
deleted when nobody labeled them, and kept but flagged (``vanished_at``) when
someone did. Running it twice gives the same result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from common.db import Database
from common.face_models import EMBEDDER_NAME, find_faces
from common.images import load_image
from common.infra.messages import ReclassifyBatch, Send
from common.infra.settings import Settings
from common.repositories import corpus_counters, events, faces, images, labels, predictions
from common.repositories.ids import face_id as derive_face_id
from common.storage import get_blob_store
from input_worker.extract import crop_key
from input_worker.ingest import publish
from input_worker.matching import match_boxes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReextractResult:
    image_id: str
    kept: int  # old faces found again (ids, labels, history kept)
    added: int
    removed: int  # vanished, unlabeled
    flagged: int  # vanished, labeled: kept with vanished_at set


def reextract_image(db: Database, image_id: str, settings: Settings, detector: str | None = None,
                    actor: str = "system", send: Send = publish) -> ReextractResult:  # fmt: skip
    image = images.get(db, image_id)
    if image is None:
        raise LookupError(f"no image {image_id}")
    store = get_blob_store()
    name = detector or settings.face_detector.value
    valid = load_image(store.get(image.blob_key), image.source_name, settings)
    search = find_faces(valid.rgb, name, settings)  # boxes in the image as displayed (the turn it chose)
    found = search.faces
    old = sorted(faces.for_image(db, image_id), key=lambda f: f.face_id)
    matches = match_boxes([f.box for f in old], [d.box for d in found])

    now = datetime.now(UTC)
    current: list[str] = []
    for index, detected in enumerate(found):
        previous = old[matches[index]] if index in matches else None
        fid = previous.face_id if previous else derive_face_id(image_id, detected.box)
        store.put(crop_key(fid), detected.crop_jpeg)
        face = faces.Face(fid, image_id, detected.box, name, detected.score, detected.embedding, EMBEDDER_NAME,
                          crop_key(fid), previous.created_at if previous and previous.created_at else now)  # fmt: skip
        faces.upsert(db, face)
        if previous and previous.vanished_at:
            faces.set_vanished(db, fid, None)
        current.append(fid)
    corpus_counters.add(db, corpus_counters.FACES, len(found) - len(matches))  # new boxes: new face ids

    removed = flagged = 0
    for oi, face in enumerate(old):
        if oi in matches.values():
            continue
        if labels.for_face(db, face.face_id):
            if face.vanished_at is None:
                faces.set_vanished(db, face.face_id, now)
            flagged += 1
        else:
            faces.delete(db, image_id, face.face_id)
            predictions.delete_for_face(db, face.face_id, image_id)
            store.delete(face.crop_key or crop_key(face.face_id))
            removed += 1

    if current:
        send(ReclassifyBatch(face_ids=tuple(current), image_ids=(image_id,)))
    images.mark_processed(db, image_id, len(current), search.rotation, (search.width, search.height))
    result = ReextractResult(image_id, len(matches), len(found) - len(matches), removed, flagged)
    events.record(db, "image.reextract", actor, image_id, {"detector": name, **result.__dict__})
    log.info("re-extracted %s with %s: %s", image_id[:12], name, result)
    return result
