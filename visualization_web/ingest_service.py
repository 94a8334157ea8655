"""Starting ingests (folder, Azure Files path, image URL or uploaded files) and reading their progress.

Whether a source may be ingested is decided by :func:`common.ingest.sources.decide` (the input worker asks
it again): a refusal is a 4xx with its reason and no job. Uploads are counted before any body is read and
streamed to the blob store by :func:`common.ingest.requests.start_upload_ingest`.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from flask import Request

from common.db import Database
from common.infra.settings import get_settings
from common.ingest.requests import UNREADABLE_NAME, Upload, start_upload_ingest, start_user_ingest
from common.ingest.sources import Source, SourceRefused, decide, redact
from common.repositories import jobs
from visualization_web.errors import ApiError

MAX_FILES = 500


def check_source(source: str) -> Source:
    """The allowed, canonical source, or an ApiError with the policy's reason."""
    try:
        return decide(source, get_settings())
    except SourceRefused as exc:
        raise ApiError(exc.status, exc.reason) from None


def start_folder(db: Database, source: str, actor: str, options: object = None) -> str:
    """Start ingesting a folder, Azure Files path or image URL for a web user (never an upload)."""
    try:
        return start_user_ingest(db, source, actor, options)
    except SourceRefused as exc:
        raise ApiError(exc.status, exc.reason) from None
    except ValueError as exc:
        raise ApiError(422, str(exc)) from exc


def uploads_of(request: Request) -> list[Upload]:
    """The request's files (field ``files``), counted before any body is read. A part whose file name broke
    the multipart header (a raw CR or LF in it) arrives as a plain field: it becomes a rejected item."""
    parts = request.files.getlist("files")
    broken = request.form.getlist("files")
    if len(parts) + len(broken) > MAX_FILES:
        raise ApiError(413, f"at most {MAX_FILES} files per upload")
    # an empty file input sends a nameless, empty part: not a file
    uploads = [Upload(part.filename or "upload", part.stream) for part in parts if part.filename or _size(part.stream)]
    uploads += [Upload("(unreadable name)", None, UNREADABLE_NAME) for _ in broken]
    return uploads


def _size(stream: BinaryIO) -> int:
    size = stream.seek(0, os.SEEK_END)
    stream.seek(0)
    return size


def start_upload(db: Database, files: list[Upload], actor: str) -> str:
    if not files:
        raise ApiError(422, "no files uploaded")
    if len(files) > MAX_FILES:
        raise ApiError(413, f"at most {MAX_FILES} files per upload")
    try:
        return start_upload_ingest(db, files, actor)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from exc


def progress(db: Database, job_id: str, rejected_listed: int = jobs.MAX_REJECTED_LISTED) -> dict:
    """The job's counters and up to ``rejected_listed`` of its rejected files: two bounded reads (counters,
    rejects), never its items."""
    found = jobs.progress(db, job_id[:128])
    if found is None:
        raise ApiError(404, f"no ingest job {job_id}")
    data = found.as_dict()
    data["source"] = redact(data["source"])  # jobs saved before credentials were refused
    data["rejected_files"] = [
        {"name": item.source_name or item.item_key, "reason": item.reason or ""}
        for item in jobs.rejected(db, found.job, rejected_listed)
    ]  # fmt: skip
    return data
