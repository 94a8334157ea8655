"""Starting ingests (folder, Azure Files path or uploaded files) and reading their progress."""

from __future__ import annotations

from pathlib import Path

from common.db import Database
from common.repositories import jobs
from common.settings import get_settings
from visualization_web.errors import ApiError

MAX_FILES = 500


def _module():
    try:
        from common import ingest_requests
    except ImportError as exc:
        raise ApiError(503, "ingest is not available yet: the input worker is not installed") from exc
    return ingest_requests


def check_source(source: str) -> str:
    source = (source or "").strip()
    if not source:
        raise ApiError(422, "source must name a folder or an Azure Files path")
    if len(source) > 1024 or "\x00" in source:
        raise ApiError(422, "source is not a valid path")
    if "://" in source:
        return source  # remote sources (Azure Files) are validated by the input worker
    roots = get_settings().ingest_roots
    resolved = Path(source).resolve()
    if not any(resolved == root or root in resolved.parents for root in roots):
        raise ApiError(403, "this folder is not in PP_ALLOWED_INGEST_ROOTS")
    return str(resolved)


def start_folder(db: Database, source: str, actor: str, options: dict | None = None) -> str:
    source = check_source(source)
    try:
        return _module().start_ingest(db, source, actor, options)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from exc


def start_upload(db: Database, files: list[tuple[str, bytes]], actor: str) -> str:
    files = [(name, data) for name, data in files if name or data]
    if not files:
        raise ApiError(422, "no files uploaded")
    if len(files) > MAX_FILES:
        raise ApiError(413, f"at most {MAX_FILES} files per upload")
    try:
        return _module().start_upload_ingest(db, files, actor)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from exc


def progress(db: Database, job_id: str) -> dict:
    found = jobs.progress(db, job_id[:128])
    if found is None:
        raise ApiError(404, f"no ingest job {job_id}")
    data = found.as_dict()
    data["rejected_files"] = [
        {"name": item.source_name or item.item_key, "reason": item.reason or ""}
        for item in jobs.items(db, found.job.job_id) if item.outcome == jobs.REJECTED
    ][:200]  # fmt: skip
    return data
