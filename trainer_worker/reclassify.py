"""Reclassification: every face without a human confirmation gets a prediction from the active model.

``plan_batches`` / ``reclassify_all`` fan out batches of face ids grouped by image (so the
same-image constraint sees every face of an image); ``reclassify_batch`` predicts one batch
vectorized and writes it concurrently. When the last batch of a version finishes, the review
queues of the versions it replaced are dropped. Faces erased meanwhile (a privacy erase) are skipped.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import redis

from common.classifier import load_active
from common.classifier.model import EMBEDDING_DIM
from common.db import Database
from common.infra import messages
from common.infra.settings import get_settings
from common.labeling.privacy_erase import erased_among
from common.repositories import faces as faces_repo
from common.repositories import labels as labels_repo
from common.repositories import personas as personas_repo
from common.repositories import predictions
from common.repositories.faces import FaceVector, decode_embedding, encode_embedding
from common.repositories.labels import FaceLabels
from common.repositories.models import active_version, history

log = logging.getLogger(__name__)

OUTSTANDING_KEY = "reclassify:{version}:outstanding"
OUTSTANDING_TTL = 86400


@dataclass(frozen=True)
class BatchResult:
    version: int | None
    predicted: int = 0
    labeled: int = 0
    missing: int = 0


def all_face_ids_by_image(db: Database, page_size: int = 5000) -> list[tuple[str, str]]:
    """(image_id, face_id) for every face, sorted by image (a paged full read of ``faces``)."""
    return sorted(faces_repo.scan_image_and_face_ids(db, page_size))


def all_face_vectors(db: Database, page_size: int = 2000) -> dict[str, FaceVector]:
    """Every face with its embedding (a paged full read of ``faces``: far cheaper than point reads)."""
    return faces_repo.scan_vectors(db, page_size)


def encode_faces(vectors: list[FaceVector]) -> list[list[str]]:
    """[face_id, image_id, base64 float32 embedding] rows for a task payload (JSON)."""
    return [[v.face_id, v.image_id, base64.b64encode(encode_embedding(v.embedding)).decode()] for v in vectors]


def decode_faces(rows: list) -> dict[str, FaceVector]:
    out: dict[str, FaceVector] = {}
    for row in rows:
        if not (isinstance(row, list | tuple) and len(row) == 3 and all(isinstance(v, str) for v in row)):
            raise ValueError("each face must be [face_id, image_id, base64 embedding]")
        out[row[0]] = FaceVector(row[0], row[1], decode_embedding(base64.b64decode(row[2], validate=True)), "")
    return out


def plan_batches(pairs: Iterable[tuple[str, str]], batch_size: int) -> list[list[str]]:
    """Chunks of about ``batch_size`` face ids that never split an image's faces (pairs sorted by image)."""
    batches: list[list[str]] = []
    current: list[str] = []
    last_image = None
    for image_id, face_id in pairs:
        if len(current) >= batch_size and image_id != last_image:
            batches.append(current)
            current = []
        current.append(face_id)
        last_image = image_id
    if current:
        batches.append(current)
    return batches


def reclassify_all(db: Database, client: redis.Redis, version: int) -> int:
    """Fan out RECLASSIFY_BATCH tasks for every face (``version``: the one promoted; skipped once another one is
    active); returns how many were sent."""
    from common.infra.celery_app import celery_app

    active = active_version(db)
    if active is None:
        return 0
    if version != active:
        log.info("reclassify for v%s skipped: v%s is active now", version, active)
        return 0
    vectors = all_face_vectors(db)
    pairs = sorted((v.image_id, v.face_id) for v in vectors.values())
    batches = plan_batches(pairs, get_settings().reclassify_batch_size)
    key = OUTSTANDING_KEY.format(version=active)
    if not batches:
        drop_superseded_queues(db, active)
        return 0
    batch_ids = [f"{active}:{i}" for i in range(len(batches))]
    client.delete(key)
    client.sadd(key, *batch_ids)
    client.expire(key, OUTSTANDING_TTL)
    for batch_id, face_ids in zip(batch_ids, batches, strict=True):
        faces = encode_faces([vectors[f] for f in face_ids])
        batch = messages.PassBatch(version=active, batch_id=batch_id, faces=faces)
        messages.send(messages.ReclassifyBatch(full_pass=batch), celery_app.send_task)
    return len(batches)


def reclassify_batch(db: Database, face_ids: list[str], client: redis.Redis | None = None,
                     version: int | None = None, batch_id: str | None = None, complete_images: bool = False,
                     vectors: dict[str, FaceVector] | None = None) -> BatchResult:  # fmt: skip
    """Predict the given faces (and their same-image siblings) with the active model; confirmed faces are
    skipped (human labels are ground truth), rejections are honoured.

    A full pass (``vectors`` given: every face of each image with its embedding, from the fan-out's scan)
    skips the point reads of faces and of the faces' previous predictions: rows of superseded versions
    are dropped as whole partitions when the pass ends."""
    classifier = load_active(db, max_age=0 if version is not None else 3.0)
    if classifier is None:
        return BatchResult(None)
    full_pass = vectors is not None
    if vectors is None:
        vectors = faces_repo.vectors(db, face_ids)
    else:
        face_ids = list(vectors)
        complete_images = True
    missing = len(set(face_ids) - set(vectors))
    if not complete_images:
        siblings = faces_repo.ids_of_images(db, {v.image_id for v in vectors.values()})
        extra = [f for ids in siblings.values() for f in ids if f not in vectors]
        vectors.update(faces_repo.vectors(db, extra))
    usable = {f: v for f, v in vectors.items() if v.embedding.shape == (EMBEDDING_DIM,)}
    if client is not None:  # erased while this batch waited or ran: never written back (common.labeling.privacy_erase)
        for face_id in erased_among(client, list(usable)):
            del usable[face_id]
    labels = _labels(db, list(usable))
    confirmed_in_image: dict[str, set[uuid.UUID]] = {}
    for face_id, face in usable.items():
        if labels[face_id].confirmed is not None:
            confirmed_in_image.setdefault(face.image_id, set()).add(labels[face_id].confirmed)
    todo = [f for f in usable if labels[f].confirmed is None]
    if todo:
        embeddings = np.stack([usable[f].embedding for f in todo])
        groups = [usable[f].image_id for f in todo]
        exclude = [labels[f].rejected | confirmed_in_image.get(usable[f].image_id, set()) for f in todo]
        results = classifier.predict(embeddings, groups=groups, exclude=exclude)
        now = datetime.now(UTC)
        predictions.put_many(db, [
            predictions.Prediction(f, r.persona_id, r.score, r.distance, classifier.version, usable[f].image_id, now)
            for f, r in zip(todo, results, strict=True)
        ], replace_old=not full_pass or classifier.version != version)  # fmt: skip
    if client is not None and batch_id is not None and version is not None:
        _finish_batch(db, client, version, batch_id)
    return BatchResult(classifier.version, len(todo), len(usable) - len(todo), missing)


def _labels(db: Database, face_ids: list[str]) -> dict[str, FaceLabels]:
    """Current human labels of the faces: whole per-persona partitions when that is fewer reads."""
    persona_ids = [p.persona_id for p in personas_repo.list_all(db)]
    if len(persona_ids) * labels_repo.BUCKETS * 2 <= len(face_ids):
        return labels_repo.of_faces_from_persona_partitions(db, persona_ids, set(face_ids))
    return labels_repo.of_faces(db, face_ids)


def _finish_batch(db: Database, client: redis.Redis, version: int, batch_id: str) -> None:
    key = OUTSTANDING_KEY.format(version=version)
    if client.srem(key, batch_id) and client.scard(key) == 0:
        active = active_version(db)
        if active is not None:
            drop_superseded_queues(db, active)


def drop_superseded_queues(db: Database, active: int) -> list[int]:
    """Drop the review queues of recently active versions other than ``active``."""
    versions = set()
    for entry in history(db, limit=20):
        if entry.action == "reject":
            continue  # rejected candidates never served predictions
        versions.update(v for v in (entry.version, entry.previous_version) if v is not None)
    versions.discard(active)
    if versions:
        personas: list[uuid.UUID | None] = [p.persona_id for p in personas_repo.list_all(db)]
        predictions.drop_version_queues(db, [*personas, None], sorted(versions))
    return sorted(versions)
