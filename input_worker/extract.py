"""Extract: detect every face of a stored image, embed it, store rows and crops, ask for predictions.

Idempotent: face ids derive from image id + box and crops are keyed by face id,
so a redelivered task rewrites identical rows; an image already processed is
only re-marked on its job item. An image whose decoding stopped the worker
three times is marked failed with that reason (``worker_deaths``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from common.db import Database
from common.face_models import EMBEDDER_NAME, FaceSearch, find_faces
from common.images import InvalidImage, load_image
from common.infra import metrics
from common.infra.messages import ExtractImage, ReclassifyBatch, Send
from common.infra.settings import Settings
from common.repositories import corpus_counters, faces, images, jobs, read_model
from common.repositories.ids import face_id as derive_face_id
from common.storage import BlobNotFound, content_key, get_blob_store
from input_worker import folder_labels, worker_deaths
from input_worker.errors import TRANSIENT, result_or_failure
from input_worker.ingest import publish

log = logging.getLogger(__name__)


def crop_key(face_id: str) -> str:
    return content_key("crops", face_id, ".jpg")


Detection = FaceSearch | Exception  # the faces found (and the turn they are in), or why the image could not be read


def extract_image(db: Database, message: ExtractImage, settings: Settings, send: Send = publish) -> int:
    """Faces of one image, stored; returns how many. Marks the job item extracted when the message names one.

    In a labeled-folder job (``folder_labels``) the single face is confirmed as the item's folder persona
    after the faces are stored and before they are sent for prediction; the job is read only then.

    ``blob_key`` (ingest sends it for an image it has just stored): detection runs before the image row is
    read, so all of the task's Cassandra work comes in one burst after the CPU work. Without it (a
    labeled-folder duplicate, a redelivered batch) the row is read first and an image already processed is
    not detected again.
    """
    image_id, job_id, item_key = message.image_id, message.job_id, message.item_key
    detector = message.detector or settings.face_detector.value
    detection = None
    if message.blob_key:  # a failure but an outage is kept, to be recorded on the row once it is read
        detection = result_or_failure(partial(_detect, image_id, message.blob_key, item_key or "", detector,
                                              settings))  # fmt: skip
    job = jobs.get(db, job_id) if job_id and message.labeled_folder else None
    labeled: list[bool] = []

    def label(face_ids: list[str]) -> None:
        if folder_labels.enabled(job) and item_key:
            folder_labels.label_image(db, job, item_key, face_ids)
            labeled.append(True)

    last_writes: list[tuple[str, tuple]] = []  # sent together at the end: one request round, not two
    image = images.get(db, image_id)
    if image is None:
        log.warning("image %s not found; nothing to extract", image_id)
        count = 0
    elif image.status == images.PROCESSED and image.face_count is not None:
        count = image.face_count  # a redelivery after the work was done (re-extraction: reextract.py)
        label(faces.ids_for_image(db, image_id))  # also: a duplicate in a labeled folder
        last_writes.append(images.card_statement(image))  # the copy, should its write have failed last time
    else:
        try:
            count = _extract(db, image, settings, detector, send, label, detection, last_writes)
        except TRANSIENT:
            raise
        except Exception as exc:  # recorded on the image; the worker and the job go on
            log.exception("extracting image %s failed", image_id)
            last_writes.clear()
            images.mark_failed(db, image_id, f"{type(exc).__name__}: {exc}")
            metrics.record_extraction("failed")
            count = 0
    if folder_labels.enabled(job) and item_key and not labeled and folder_labels.persona_folder(item_key):
        folder_labels.record(db, job.job_id, item_key, folder_labels.NOT_LABELED, "image could not be extracted")
    image_written = bool(last_writes)
    if job_id and item_key:
        last_writes.append(jobs.record_extracted_statement(job_id, item_key, count))
    # Either may land without the other: a retry finds the image processed (and marks the item) or not
    # (and extracts again, writing the same rows).
    db.concurrently(last_writes)
    if job_id and item_key:
        jobs.count_extracted(db, job_id, item_key, count)  # once per item, however often it is redelivered
    if image_written:
        read_model.changed(db)
    if isinstance(detection, worker_deaths.StoppedWorker):  # recorded, or the image needs nothing more
        worker_deaths.clear(_deaths_key(image_id))
    return count


def _deaths_key(image_id: str) -> str:
    return worker_deaths.counter_key("extract", image_id)


def _detect(image_id: str, blob_key: str, name: str, detector: str, settings: Settings) -> Detection:
    """The faces of a stored image, or the reason (BlobNotFound, InvalidImage, StoppedWorker) it cannot be
    read. Counted per delivery: an image whose decoding stopped the worker 3 times is not decoded again."""
    return worker_deaths.guarded(_deaths_key(image_id), partial(_decode_and_detect, blob_key, name, detector,
                                                                 settings))  # fmt: skip


def _decode_and_detect(blob_key: str, name: str, detector: str, settings: Settings) -> Detection:
    try:
        valid = load_image(get_blob_store().get(blob_key), name, settings)
    except (BlobNotFound, InvalidImage) as exc:
        return exc
    return find_faces(valid.rgb, detector, settings)


def _extract(db: Database, image: images.Image, settings: Settings, detector: str, send: Send,
             label: Callable[[list[str]], None] | None, detection: Detection | None,
             last_writes: list[tuple[str, tuple]]) -> int:  # fmt: skip
    """Detect (unless ``detection`` is given), store faces and crops, send them for prediction. Marking the
    image processed comes after its faces are stored: appended to ``last_writes``, which the caller sends
    with its own last write."""
    if detection is None:
        detection = _detect(image.image_id, image.blob_key, image.source_name, detector, settings)
    if isinstance(detection, worker_deaths.StoppedWorker):
        images.mark_failed(db, image.image_id, detection.reason)
        worker_deaths.clear(_deaths_key(image.image_id))
        metrics.record_extraction("failed")
        return 0
    if isinstance(detection, (BlobNotFound, InvalidImage)):
        images.mark_failed(db, image.image_id, f"cannot read stored image: {detection}")
        metrics.record_extraction("failed")
        return 0
    if isinstance(detection, Exception):
        raise detection
    store = get_blob_store()
    now = datetime.now(UTC)
    found_faces = []
    for found in detection.faces:
        fid = derive_face_id(image.image_id, found.box)
        key = crop_key(fid)
        store.put(key, found.crop_jpeg)
        found_faces.append(faces.Face(fid, image.image_id, found.box, detector, found.score, found.embedding,
                                      EMBEDDER_NAME, key, now))  # fmt: skip
    faces.upsert_many(db, found_faces)
    # the image is not processed yet, so its faces are new (a redelivery after a crash before the image was
    # marked processed counts them again: the reconcile corrects that)
    corpus_counters.add(db, corpus_counters.FACES, len(found_faces))
    face_ids = [face.face_id for face in found_faces]
    if label is not None:
        label(face_ids)
    if face_ids:
        send(ReclassifyBatch(face_ids=tuple(face_ids), image_ids=(image.image_id,)))
    last_writes.extend(images.mark_processed_statements(image.image_id, len(face_ids), detection.rotation,
                                                        (detection.width, detection.height)))  # fmt: skip
    metrics.record_extraction("processed", detector, len(face_ids))
    log.info("image %s: %d faces (%s, turned %d, extra passes: %s)", image.image_id[:12], len(face_ids), detector,
             detection.rotation, ",".join(detection.passes) or "none")  # fmt: skip
    return len(face_ids)
