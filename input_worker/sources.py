"""Where images come from: a local folder (recursive), an Azure Files share, an http(s) URL, or uploads.

Discovery yields :class:`SourceItem` rows: ``key`` is unique within the job (the
path relative to the source, as display text), ``name`` is metadata only, and
``locator`` says how to read the bytes back (a base64 file path, a share path,
a URL, a staged blob key). File names never become paths anywhere else.
"""

from __future__ import annotations

import base64
import os
import re
import stat
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from common.db import Database, get_database
from common.ingest_requests import staged_by
from common.repositories import images, jobs
from common.settings import Settings
from common.storage import BlobNotFound, get_blob_store, sha256_hex
from input_worker import azure_share
from input_worker.validation import InvalidImage, display_name

FOLDER, AZURE, URL, UPLOAD = "folder", "azure-files", "url", "upload"
UPLOAD_SOURCE = "upload:"
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class SourceItem:
    key: str
    name: str
    locator: str
    size: int | None = None
    reason: str | None = None  # known bad before reading (e.g. not a regular file)

    def as_dict(self) -> dict:
        return asdict(self)


def source_kind(source: str) -> str:
    if source.startswith(UPLOAD_SOURCE):
        return UPLOAD
    if azure_share.is_share_url(source):
        return AZURE
    if urlsplit(source).scheme in ("http", "https"):
        return URL
    return FOLDER


def normalize_source(source: str) -> str:
    """Local paths become absolute (workers may run elsewhere); URLs are kept as given."""
    if source_kind(source) == FOLDER:
        return str(Path(source).expanduser().resolve())
    return source


def discover(source: str, options: dict, settings: Settings, **share_kwargs) -> Iterator[SourceItem]:
    kind = source_kind(source)
    if kind == FOLDER:
        yield from _unique(_walk_folder(Path(source)))
    elif kind == AZURE:
        location = azure_share.parse_share_url(source)
        share = azure_share.open_share(location, settings, **share_kwargs)
        for path, relative, size in azure_share.list_files(share, location.directory):
            yield SourceItem(display_name(relative), display_name(relative.rsplit("/", 1)[-1]), path, size)
    elif kind == URL:
        yield SourceItem(display_name(source), display_name(urlsplit(source).path.rsplit("/", 1)[-1]), source)
    else:
        for entry in options.get("uploads", []):
            yield SourceItem(**entry)


def _unique(items: Iterator[SourceItem]) -> Iterator[SourceItem]:
    seen: set[str] = set()
    for item in items:
        key, n = item.key, 1
        while key in seen:  # two raw names that display the same
            n += 1
            key = f"{item.key} #{n}"
        seen.add(key)
        yield SourceItem(key, item.name, item.locator, item.size, item.reason)


def _walk_folder(root: Path) -> Iterator[SourceItem]:
    if root.is_file():
        yield _folder_item(root, root.name)
        return
    if not root.is_dir():
        raise FileNotFoundError(f"no such folder: {root}")
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for filename in sorted(filenames):
            path = Path(directory) / filename
            yield _folder_item(path, os.path.relpath(path, root))


def _folder_item(path: Path, relative: str) -> SourceItem:
    locator = base64.urlsafe_b64encode(os.fsencode(path)).decode("ascii")
    key, name = display_name(relative), display_name(path.name)
    try:
        info = path.lstat()
    except OSError as exc:
        return SourceItem(key, name, locator, None, f"could not read: {exc.strerror or exc}")
    if stat.S_ISLNK(info.st_mode):
        return SourceItem(key, name, locator, None, "symbolic link (not followed)")
    if not stat.S_ISREG(info.st_mode):
        return SourceItem(key, name, locator, None, "not a regular file")
    return SourceItem(key, name, locator, info.st_size)


def read_item(source: str, item: SourceItem, settings: Settings, **share_kwargs) -> bytes:
    """The item's bytes, at most ``max_image_bytes`` (larger -> InvalidImage); unreadable -> InvalidImage."""
    if item.reason:
        raise InvalidImage(item.reason)
    limit = settings.max_image_bytes
    if item.size is not None and item.size > limit:
        raise InvalidImage(f"file too large: {item.size} bytes (limit {limit})")
    kind = source_kind(source)
    if kind == FOLDER:
        return _read_file(Path(os.fsdecode(base64.urlsafe_b64decode(item.locator))), limit)
    if kind == AZURE:
        location = azure_share.parse_share_url(source)
        share = azure_share.open_share(location, settings, **share_kwargs)
        return azure_share.read_file(share, item.locator, limit)
    if kind == URL:
        return _read_url(item.locator, limit)
    return _read_upload(item)


def _read_upload(item: SourceItem) -> bytes:
    """The staged upload. Once it is released (a redelivered item): the image stored from the same bytes,
    or the rejection already recorded for the item, so the outcome is the same as the first time."""
    try:
        return get_blob_store().get(item.locator)
    except BlobNotFound:
        pass
    db = get_database()
    name = item.locator.rsplit("/", 1)[-1]  # <job_id>-<nnnn>-<sha256> (older: <sha256>)
    stored = _stored_image_bytes(db, name.rsplit("-", 1)[-1])
    if stored is not None:
        return stored
    job_id = name.split("-", 1)[0]
    done = jobs.get_item(db, job_id, item.key) if staged_by(job_id, item.locator) else None
    if done is not None and done.outcome == jobs.REJECTED and done.reason:
        raise InvalidImage(done.reason)
    raise InvalidImage("uploaded file is missing from the blob store")


def _stored_image_bytes(db: Database, digest: str) -> bytes | None:
    image = images.get(db, digest) if _SHA256.fullmatch(digest) else None
    if image is None:
        return None
    try:
        data = get_blob_store().get(image.blob_key)
    except BlobNotFound:
        return None
    return data if sha256_hex(data) == digest else None


def release_staged_uploads(job_id: str, items: Iterable[dict]) -> int:
    """Delete the staged copies of an upload job's items whose outcome is recorded; returns how many.

    Call it when a batch has recorded every item's outcome: a redelivered batch then skips those items,
    so nothing reads the staged copy again (and ``read_item`` falls back to the stored image if it does).
    Only blobs this job staged (``uploads/<job_id>-…``) are deleted; other sources have none.
    """
    store = get_blob_store()
    released = 0
    for raw in items:
        locator = raw.get("locator") or ""
        if staged_by(job_id, locator):
            store.delete(locator)
            released += 1
    return released


def _read_file(path: Path, limit: int) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise InvalidImage(f"could not read: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise InvalidImage("not a regular file")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise InvalidImage(f"file too large: over {limit} bytes")
    return data


def _read_url(url: str, limit: int, timeout: float = 30.0) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "persona-pipeline-ingest"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = response.read(limit + 1)
    except urllib.error.HTTPError as exc:
        raise InvalidImage(f"download failed: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise InvalidImage(f"download failed: {getattr(exc, 'reason', exc)}") from None
    if len(data) > limit:
        raise InvalidImage(f"file too large: over {limit} bytes")
    return data
