"""Start ingest jobs (CLI and web app): create the job row, send the INGEST_JOB task by name."""

from __future__ import annotations

import uuid

from common import task_names
from common.db import Database
from common.repositories import jobs
from common.repositories.ids import job_id_for
from common.settings import get_settings
from common.storage import get_blob_store, sha256_hex
from common.storage.base import validate_key

UPLOADS = "uploads"


def _send(job_id: str) -> None:
    from common.celery_app import celery_app

    celery_app.send_task(task_names.INGEST_JOB, kwargs={"job_id": job_id})


def start_ingest(db: Database, source: str, actor: str, options: dict | None = None) -> str:
    """Ingest a local folder, an Azure Files URL (azurefiles://share/dir or https://acct.file.core.windows.net/...)
    or the http(s) URL of an image. Returns the job id at once; progress: ``jobs.progress(db, job_id)``.
    """
    from input_worker.sources import normalize_source

    source = normalize_source(source.strip())
    job_id = job_id_for(source, uuid.uuid4().hex)
    jobs.create(db, job_id, source, actor, options or {})
    _send(job_id)
    return job_id


def staged_upload_key(job_id: str, index: int, digest: str) -> str:
    """Where upload ``index`` of a job waits for the input worker: one blob per job and file, so jobs never
    share (or delete) each other's staged copies. The input worker deletes it once the file's outcome is
    recorded (``input_worker.sources.release_staged_uploads``); the image itself is kept under ``images/``.
    """
    return validate_key(f"{UPLOADS}/{job_id}-{index:04d}-{digest}")


def staged_by(job_id: str, locator: str) -> bool:
    """True when ``locator`` is a staged upload of this job (not an older shared one)."""
    return locator.startswith(f"{UPLOADS}/{job_id}-")


def start_upload_ingest(db: Database, files: list[tuple[str, bytes]], actor: str) -> str:
    """Stage uploaded (name, bytes) in the blob store and ingest them; names are metadata only.

    Empty or oversize files are not staged; they appear as rejected items with the reason.
    """
    from input_worker.sources import UPLOAD_SOURCE
    from input_worker.validation import InvalidImage, check_size, display_name

    settings = get_settings()
    store = get_blob_store()
    source = f"{UPLOAD_SOURCE}{len(files)} file{'s' if len(files) != 1 else ''} from {actor}"
    job_id = job_id_for(source, uuid.uuid4().hex)
    entries = []
    try:
        for index, (name, data) in enumerate(files, start=1):
            shown = display_name(name or "")
            entry = {"key": f"{index:04d} {shown}", "name": shown, "locator": "", "size": len(data), "reason": None}
            try:
                check_size(len(data), settings)
            except InvalidImage as exc:
                entry["reason"] = exc.reason
            else:
                entry["locator"] = staged_upload_key(job_id, index, sha256_hex(data))
                store.put(entry["locator"], data)
            entries.append(entry)
        jobs.create(db, job_id, source, actor, {"uploads": entries})
    except BaseException:  # no job row: nothing would ever read (or delete) the staged copies
        for entry in entries:
            if entry["locator"]:
                store.delete(entry["locator"])
        raise
    _send(job_id)
    return job_id
