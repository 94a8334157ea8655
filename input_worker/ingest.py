"""Ingest: discover a job's images, fan out in batches, store each valid original once.

Every step is idempotent: item rows are keyed by (job, item key), images by the
SHA-256 of their bytes, so a redelivered task rewrites the same rows and the
job's counters (counted from item rows) stay exact. An item whose decoding
stopped the worker three times is recorded as rejected (``worker_deaths``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from azure.core.exceptions import HttpResponseError

from common.db import Database
from common.images import InvalidImage, load_image
from common.infra import messages, metrics
from common.infra.celery_app import celery_app
from common.infra.messages import ExtractImage, IngestBatch, IngestItem, Message, Send
from common.infra.settings import Settings
from common.repositories import images, jobs
from common.storage import content_key, get_blob_store, sha256_hex
from input_worker import folder_labels, worker_deaths
from input_worker.errors import TRANSIENT, result_or_failure
from input_worker.sources import SourceItem, discover, read_item, release_staged_uploads

log = logging.getLogger(__name__)


def publish(message: Message) -> None:
    """The domain functions' default ``send``: publish the message to its queue."""
    messages.send(message, celery_app.send_task)


def run_job(db: Database, job_id: str, settings: Settings, send: Send = publish) -> int:
    """Discover the job's items, record how many, send them in batches. Returns the count."""
    job = jobs.get(db, job_id)
    if job is None:
        log.warning("ingest job %s not found; nothing to do", job_id)
        return 0
    try:
        items = list(discover(job.source, job.options, settings))
    except TRANSIENT:
        raise
    except HttpResponseError as exc:
        if (exc.status_code or 0) == 429 or (exc.status_code or 0) >= 500:
            raise
        jobs.set_failed(db, job_id, f"cannot list {job.source}: {exc.message or exc}")
        return 0
    except (OSError, ValueError) as exc:
        jobs.set_failed(db, job_id, f"cannot list {job.source}: {exc}")
        return 0
    if folder_labels.enabled(job):  # personas exist before any image of theirs is extracted
        for folder, error in folder_labels.ensure_personas(db, job, (item.key for item in items)).items():
            log.warning("job %s: folder %r is not a persona name: %s", job_id, folder, error)
    jobs.set_discovered(db, job_id, len(items))
    size = max(1, settings.ingest_batch_size)
    for start in range(0, len(items), size):
        batch = tuple(IngestItem(**item.as_dict()) for item in items[start : start + size])
        send(IngestBatch(job_id=job_id, items=batch))
    log.info("job %s: %d items from %s", job_id, len(items), job.source)
    return len(items)


@dataclass(frozen=True)
class StoredBytes:
    """An item read, validated and stored in the blob store; its rows are not written yet."""

    image_id: str
    blob_key: str
    size_bytes: int
    width: int
    height: int
    format: str


Prepared = StoredBytes | InvalidImage | Exception  # what the CPU phase found for one item


def ingest_batch(db: Database, job_id: str, items: Iterable[dict], settings: Settings,
                 send: Send = publish) -> None:  # fmt: skip
    """Ingest a batch in two phases: read, validate and store every item's bytes (CPU and blob I/O), then
    write all of the batch's rows (one burst of Cassandra work instead of one per item)."""
    job = jobs.get(db, job_id)
    if job is None:
        log.warning("ingest job %s not found; batch dropped", job_id)
        return
    detector = job.options.get("detector")
    labeling = folder_labels.enabled(job)
    items = list(items)
    todo = [SourceItem(**raw) for raw in items]
    done = jobs.get_items(db, job_id, [item.key for item in todo])
    prepared: list[tuple[SourceItem, Prepared]] = []
    for item in todo:
        earlier = done.get(item.key)
        if earlier is not None and earlier.outcome:
            jobs.count_outcome(db, job_id, item.key, earlier.outcome)  # a no-op unless the last delivery died here
            if _needs_extract(earlier.outcome, item.key, labeling) and not earlier.extracted:  # redelivered
                _send_extract(send, earlier.image_id, job_id, item.key, detector, labeling)  # before extraction
            continue
        prepare = partial(prepare_item, job.source, item, settings)  # counted: an item that kills the worker
        found = result_or_failure(partial(worker_deaths.guarded, _deaths_key(job_id, item), prepare))
        prepared.append((item, found))
    for item, found in prepared:
        try:
            outcome = record_item(db, job.job_id, job.source, item, found, send, detector, labeling)
            metrics.record_ingest_item(outcome, found.reason if isinstance(found, InvalidImage) else None)
        except TRANSIENT:
            raise
        except Exception as exc:  # one bad item never stops the others
            log.exception("job %s item %r failed", job_id, item.key)
            jobs.record_outcome(db, job_id, item.key, item.name, jobs.REJECTED,
                                reason=f"internal error: {type(exc).__name__}: {exc}"[:2000])  # fmt: skip
            metrics.record_ingest_item(jobs.REJECTED, "internal error")
        if isinstance(found, worker_deaths.StoppedWorker):
            log.warning("job %s item %r: %s; recorded as rejected", job_id, item.key, found.reason)
            worker_deaths.clear(_deaths_key(job_id, item))
    release_staged_uploads(job_id, items)  # every outcome is recorded: staged uploads are no longer needed


def _deaths_key(job_id: str, item: SourceItem) -> str:
    return worker_deaths.counter_key("ingest", job_id, item.key)


def ingest_item(db: Database, job_id: str, source: str, item: SourceItem, settings: Settings, send: Send,
                detector: str | None = None, labeling: bool = False) -> str:  # fmt: skip
    """Read, validate and store one item; records and returns its outcome.

    ``labeling`` (a labeled-folder job): a duplicate in a persona folder is sent to the extract step too,
    which labels its face (the image is not extracted again when it was processed already).
    """
    return record_item(db, job_id, source, item, prepare_item(source, item, settings), send, detector, labeling)


def prepare_item(source: str, item: SourceItem, settings: Settings) -> StoredBytes | InvalidImage:
    """Read and validate the item's bytes and store them under their SHA-256 (no Cassandra work)."""
    try:
        data = read_item(source, item, settings)
        valid = load_image(data, item.name, settings, reduced=True)
    except InvalidImage as exc:
        return exc
    image_id = sha256_hex(data)
    blob_key = content_key("images", image_id, valid.suffix)
    get_blob_store().put_if_absent(blob_key, data)
    return StoredBytes(image_id, blob_key, len(data), valid.width, valid.height, valid.format)


def record_item(db: Database, job_id: str, source: str, item: SourceItem, found: Prepared, send: Send,
                detector: str | None = None, labeling: bool = False) -> str:  # fmt: skip
    """Write the rows of one prepared item: claim the image (or find it a duplicate), record the outcome,
    send the extraction. Returns the outcome."""
    if isinstance(found, InvalidImage):
        jobs.record_outcome(db, job_id, item.key, item.name, jobs.REJECTED, reason=found.reason)
        return jobs.REJECTED
    if isinstance(found, Exception):
        raise found
    image = images.Image(
        image_id=found.image_id, blob_key=found.blob_key, source=source, source_name=item.key,
        size_bytes=found.size_bytes, width=found.width, height=found.height, format=found.format,
        status=images.STORED, face_count=None, error=None, job_id=job_id, item_key=item.key, created_at=None,
        processed_at=None,
    )  # fmt: skip
    inserted, stored = images.insert_if_absent(db, image)
    ours = inserted or (stored.job_id == job_id and stored.item_key == item.key)
    if ours:
        jobs.record_outcome(db, job_id, item.key, item.name, jobs.STORED, image_id=found.image_id)
        _send_extract(send, found.image_id, job_id, item.key, detector, labeling, blob_key=found.blob_key)
        return jobs.STORED
    reason = f"same bytes as {stored.source_name or found.image_id}"
    jobs.record_outcome(db, job_id, item.key, item.name, jobs.DUPLICATE, image_id=found.image_id, reason=reason)
    if _needs_extract(jobs.DUPLICATE, item.key, labeling):
        _send_extract(send, found.image_id, job_id, item.key, detector, labeling)
    return jobs.DUPLICATE


def _needs_extract(outcome: str, item_key: str, labeling: bool) -> bool:
    if outcome == jobs.STORED:
        return True
    return outcome == jobs.DUPLICATE and labeling and folder_labels.persona_folder(item_key) is not None


def _send_extract(send: Send, image_id: str, job_id: str, item_key: str, detector: str | None,
                  labeling: bool, blob_key: str | None = None) -> None:  # fmt: skip
    # ``labeled_folder`` spares the extract step a read of the job (it needs the job only to label faces);
    # ``blob_key`` (a newly stored image) lets it detect before it reads the image row.
    message = ExtractImage(image_id=image_id, job_id=job_id, item_key=item_key, labeled_folder=labeling,
                           detector=detector or None, blob_key=blob_key or None)  # fmt: skip
    send(message)
