"""Start ingest jobs (CLI and web app): check the source, create the job row, send the INGEST_JOB task by name.

Three entry points, one per kind of caller:

- :func:`start_ingest`: the operator's CLI and scripts (``persona-pipeline ingest``, ``make demo``). The
  operator already has the machine's files, so a folder need not be under ``PP_ALLOWED_INGEST_ROOTS``
  (the job carries the ``operator`` option); shares and URLs follow the same rules as everyone's.
- :func:`start_user_ingest`: a web request. Every rule of :mod:`common.ingest.sources` applies, and only
  the options in ``USER_OPTIONS`` are accepted (never upload locators or the operator flag).
- :func:`start_upload_ingest`: uploaded files, streamed to the blob store; the only way an ``upload:`` job
  (and its locators) comes to exist.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from common.db import Database
from common.infra import messages
from common.infra.celery_app import celery_app
from common.infra.settings import Settings, get_settings
from common.ingest.sources import OPERATOR, UPLOAD_SOURCE, decide, user_options
from common.repositories import jobs
from common.repositories.ids import job_id_for
from common.storage import get_blob_store
from common.storage.base import CHUNK_BYTES, validate_key

UPLOADS = "uploads"
MAX_NAME_CHARS = 512
_STAGED = re.compile(r"uploads/([0-9a-f]{24})-[0-9]{4}-([0-9a-f]{64})")
UNREADABLE_NAME = "the file name could not be read (a line break or control character in it): not stored"


@dataclass
class Upload:
    """One uploaded file: its name as sent and a seekable stream of its bytes (None: no body was usable)."""

    name: str
    stream: BinaryIO | None
    reason: str | None = None  # known bad before reading (e.g. a multipart part whose file name broke)


def _send(job_id: str) -> None:
    messages.send(messages.IngestJob(job_id=job_id), celery_app.send_task)


def start_ingest(db: Database, source: str, actor: str, options: dict | None = None) -> str:
    """The operator's ingest of a local folder, an Azure Files path (azurefiles://share/dir or
    https://acct.file.core.windows.net/share/dir) or an image URL. Returns the job id at once; progress:
    ``jobs.progress(db, job_id)``. A refused source raises ``SourceRefused`` (a ``ValueError``)."""
    decision = decide(source, get_settings(), operator=True)
    return _create(db, decision.value, actor, {**(options or {}), OPERATOR: True})


def start_user_ingest(db: Database, source: str, actor: str, options: object = None) -> str:
    """A web user's ingest: every allowlist applies; a refused source raises ``SourceRefused``, no job."""
    options = user_options(options)
    decision = decide(source, get_settings())
    return _create(db, decision.value, actor, options)


def _create(db: Database, source: str, actor: str, options: dict) -> str:
    job_id = job_id_for(source, uuid.uuid4().hex)
    jobs.create(db, job_id, source, actor, options)
    _send(job_id)
    return job_id


def staged_upload_key(job_id: str, index: int, digest: str) -> str:
    """Where upload ``index`` of a job waits for the input worker: one blob per job and file, so jobs never
    share (or delete) each other's staged copies. The input worker deletes it once the file's outcome is
    recorded (``input_worker.sources.release_staged_uploads``); the image itself is kept under ``images/``.
    """
    return validate_key(f"{UPLOADS}/{job_id}-{index:04d}-{digest}")


def staged_by(job_id: str, locator: str) -> bool:
    """True when ``locator`` is a staged upload of this job (not an older shared one, not another kind)."""
    match = _STAGED.fullmatch(locator or "")
    return match is not None and match.group(1) == job_id


def is_staged_key(locator: str) -> bool:
    """True when ``locator`` has the form of a staged upload (the only blobs an upload job may read)."""
    return _STAGED.fullmatch(locator or "") is not None


def upload_name(name: str) -> tuple[str, str | None]:
    """(display name, rejection reason or None): a name with control characters (CR, LF, ...) is refused."""
    text = unicodedata.normalize("NFC", name.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
    bad = sorted({f"U+{ord(ch):04X}" for ch in text if unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn")})
    shown = "".join("\ufffd" if unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") else ch for ch in text)
    shown = shown[:MAX_NAME_CHARS] or "(unnamed)"
    if bad:
        return shown, f"file name contains control characters ({', '.join(bad[:5])}): not stored"
    return shown, None


def _measure(stream: BinaryIO, limit: int) -> tuple[int, str | None, str | None]:
    """(size, sha256, reason): read in chunks, stopping once past ``limit``."""
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            return size, None, f"file too large: over {limit} bytes"
        digest.update(chunk)
    if size == 0:
        return 0, None, "empty file (0 bytes)"
    return size, digest.hexdigest(), None


def _as_upload(file: Upload | tuple[str, bytes]) -> Upload:
    if isinstance(file, Upload):
        return file
    name, data = file
    return Upload(name, io.BytesIO(data))


def _stage(store, job_id: str, index: int, upload: Upload, settings: Settings) -> dict:
    shown, reason = upload_name(upload.name or "")
    entry = {"key": f"{index:04d} {shown}", "name": shown, "locator": "", "size": None, "reason": None}
    reason = upload.reason or reason or (None if upload.stream is not None else UNREADABLE_NAME)
    if reason is None:
        size, digest, reason = _measure(upload.stream, settings.max_image_bytes)
        entry["size"] = size
        if reason is None:
            upload.stream.seek(0)
            entry["locator"] = staged_upload_key(job_id, index, digest)
            store.put_stream(entry["locator"], upload.stream, size)
    entry["reason"] = reason
    return entry


def start_upload_ingest(db: Database, files: Iterable[Upload | tuple[str, bytes]], actor: str) -> str:
    """Stream uploaded files to the blob store (hashing as they go) and ingest them; names are metadata only.

    Empty or oversize files and files whose names hold control characters are not staged; they appear as
    rejected items with the reason. Nothing is left staged without a job that will release it.
    """
    settings = get_settings()
    store = get_blob_store()
    files = [_as_upload(file) for file in files]
    source = f"{UPLOAD_SOURCE}{len(files)} file{'s' if len(files) != 1 else ''} from {upload_name(actor)[0]}"
    job_id = job_id_for(source, uuid.uuid4().hex)
    entries: list[dict] = []
    created = False
    try:
        for index, upload in enumerate(files, start=1):
            entries.append(_stage(store, job_id, index, upload, settings))
        jobs.create(db, job_id, source, actor, {"uploads": entries})
        created = True
        _send(job_id)
    except BaseException:  # no job, or no task to run it: nothing would ever read (or delete) the staged copies
        for entry in entries:
            if entry["locator"]:
                store.delete(entry["locator"])
        if created:
            with contextlib.suppress(Exception):
                jobs.set_failed(db, job_id, "the ingest task could not be queued; upload again")
        raise
    return job_id
