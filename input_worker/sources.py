"""Where images come from: a local folder (recursive), an Azure Files share, an http(s) URL, or uploads.

Before listing or reading anything, the source is decided again by :func:`common.ingest.sources.decide`,
the function the web app used before it created the job: a refused source fails the job with the reason.

Discovery yields :class:`SourceItem` rows: ``key`` is unique within the job (the
path relative to the source, as display text), ``name`` is metadata only, and
``locator`` says how to read the bytes back (a base64 file path, a share path,
a URL, a staged blob key). File names never become paths anywhere else.

Folders are walked one directory at a time: each is opened without following a symbolic link and its real
path (from the open descriptor) must be the expected path inside the source, so a symlinked or swapped
directory never leads outside; files are opened the same way and checked again when read.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from common.db import Database, get_database
from common.images import InvalidImage, display_name
from common.infra.settings import Settings, get_settings
from common.ingest.requests import is_staged_key, staged_by
from common.ingest.sources import (
    AZURE,
    FOLDER,
    OPERATOR,
    UPLOAD,
    UPLOAD_SOURCE,
    URL,
    SourceRefused,
    classify,
    decide,
    within,
)
from common.repositories import images, jobs
from common.storage import BlobNotFound, get_blob_store, sha256_hex
from input_worker import azure_share, url_fetch

__all__ = ["AZURE", "FOLDER", "UPLOAD", "UPLOAD_SOURCE", "URL", "SourceItem", "discover", "read_item"]

log = logging.getLogger(__name__)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
OUTSIDE = "leads outside the ingest folder (symbolic link or moved): not followed"
_UPLOAD_FIELDS = ("key", "name", "locator", "size", "reason")


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
    return classify(source)


def normalize_source(source: str) -> str:
    """The operator's form of ``source``: local paths absolute and resolved, URLs canonical."""
    return decide(source, get_settings(), operator=True).value


def discover(source: str, options: dict, settings: Settings, **share_kwargs) -> Iterator[SourceItem]:
    """Every item of the source; a source the policy refuses raises ``SourceRefused`` (a ``ValueError``)."""
    decision = decide(source, settings, operator=options.get(OPERATOR) is True, staged_upload=True)
    if decision.kind == FOLDER:
        if decision.value != source:  # saved resolved: a component became a symbolic link since
            raise SourceRefused(f"the folder {OUTSIDE}")
        yield from _unique(_walk_folder(source))
    elif decision.kind == AZURE:
        location = azure_share.ShareLocation(decision.share, decision.directory)
        share = azure_share.open_share(location, settings, **share_kwargs)
        for path, relative, size in azure_share.list_files(share, location.directory):
            yield SourceItem(display_name(relative), display_name(relative.rsplit("/", 1)[-1]), path, size)
    elif decision.kind == URL:
        name = urlsplit(decision.value).path.rsplit("/", 1)[-1]
        yield SourceItem(display_name(decision.value), display_name(name), decision.value)
    else:
        uploads = options.get("uploads")
        for index, entry in enumerate(uploads if isinstance(uploads, list) else [], start=1):
            yield _upload_item(index, entry)


def _upload_item(index: int, entry: object) -> SourceItem:
    """A staged upload from the job's options; anything not written by the upload path is a rejected item."""
    raw = entry if isinstance(entry, dict) else {}
    key, name, locator, size, reason = (raw.get(field) for field in _UPLOAD_FIELDS)
    if not isinstance(key, str) or not key or not isinstance(name, str):
        return SourceItem(f"{index:04d} (invalid entry)", "(invalid entry)", "", None, "not an uploaded file")
    size = size if isinstance(size, int) else None
    reason = str(reason) if reason else None
    if locator and not is_staged_key(str(locator)):
        return SourceItem(key, name, "", None, "not an uploaded file")
    return SourceItem(key, name, str(locator or ""), size, reason)


def _unique(items: Iterator[SourceItem]) -> Iterator[SourceItem]:
    seen: set[str] = set()
    for item in items:
        key, n = item.key, 1
        while key in seen:  # two raw names that display the same
            n += 1
            key = f"{item.key} #{n}"
        seen.add(key)
        yield SourceItem(key, item.name, item.locator, item.size, item.reason)


def _walk_folder(root: str) -> Iterator[SourceItem]:
    """Every entry below ``root`` (resolved), files of a directory before its subdirectories, sorted."""
    try:
        info = os.lstat(root)
    except OSError as exc:
        raise FileNotFoundError(f"no such folder: {root} ({exc.strerror or exc})") from None
    if not stat.S_ISDIR(info.st_mode):
        yield _folder_item(root, root, os.path.basename(root), info)
        return
    pending = [""]
    while pending:
        relative = pending.pop()
        directory = os.path.join(root, relative) if relative else root
        try:
            entries = _list_directory(directory, root)
        except (OSError, SourceRefused) as exc:
            if not relative:
                raise
            yield _folder_item(directory, root, relative, None, getattr(exc, "reason", None) or _why(exc))
            continue
        subdirectories = []
        for name, entry_info in entries:
            child = os.path.join(relative, name) if relative else name
            if stat.S_ISDIR(entry_info.st_mode):
                subdirectories.append(child)
            else:
                yield _folder_item(os.path.join(root, child), root, child, entry_info)
        pending.extend(reversed(subdirectories))


def _list_directory(directory: str, root: str) -> list[tuple[str, os.stat_result]]:
    """(name, lstat) of each entry of ``directory``, sorted, once its open descriptor proves it is the
    expected directory inside ``root`` (no symbolic link, not moved or swapped)."""
    fd = os.open(directory, _DIR_FLAGS)
    try:
        _check_real_path(fd, directory, root)
        with os.scandir(fd) as listing:
            entries = [(entry.name, entry.stat(follow_symlinks=False)) for entry in listing]
    finally:
        os.close(fd)
    return sorted(entries, key=lambda pair: os.fsencode(pair[0]))


def _check_real_path(fd: int, expected: str, root: str) -> None:
    """The descriptor's real path must be exactly ``expected`` and inside ``root``."""
    real = os.readlink(f"/proc/self/fd/{fd}")
    if os.fsencode(real) != os.fsencode(expected) or not within(real, root):
        raise SourceRefused(OUTSIDE)


def _why(exc: OSError | SourceRefused) -> str:
    return f"could not read: {getattr(exc, 'strerror', None) or exc}"


def _folder_item(path: str, root: str, relative: str, info: os.stat_result | None, reason: str | None = None):
    locator = base64.urlsafe_b64encode(os.fsencode(path)).decode("ascii")
    key, name = display_name(relative), display_name(os.path.basename(path))
    if reason is not None or info is None:
        return SourceItem(key, name, locator, None, reason or "could not read")
    if stat.S_ISLNK(info.st_mode):
        return SourceItem(key, name, locator, None, "symbolic link (not followed)")
    if not stat.S_ISREG(info.st_mode):
        return SourceItem(key, name, locator, None, "not a regular file")
    return SourceItem(key, name, locator, info.st_size)


def read_item(source: str, item: SourceItem, settings: Settings, **share_kwargs) -> bytes:
    """The item's bytes, at most ``max_image_bytes`` (larger -> InvalidImage); unreadable -> InvalidImage.

    The source kind is decided again; a folder file must still be inside the folder, a share still allowed,
    URL ingest still on, an upload locator a staged upload.
    """
    if item.reason:
        raise InvalidImage(item.reason)
    limit = settings.max_image_bytes
    if item.size is not None and item.size > limit:
        raise InvalidImage(f"file too large: {item.size} bytes (limit {limit})")
    try:
        kind = classify(source)
        if kind == FOLDER:
            return _read_file(os.fsdecode(base64.urlsafe_b64decode(item.locator)), source, limit)
        decision = decide(source, settings, staged_upload=True)
    except SourceRefused as exc:
        raise InvalidImage(exc.reason) from None
    if kind == AZURE:
        location = azure_share.ShareLocation(decision.share, decision.directory)
        inside = not location.directory or within(item.locator, location.directory)
        if not inside or ".." in item.locator.split("/"):
            raise InvalidImage("file is outside the ingested directory")
        share = azure_share.open_share(location, settings, **share_kwargs)
        return azure_share.read_file(share, item.locator, limit)
    if kind == URL:
        return _read_url(decision.value, limit)
    if not is_staged_key(item.locator):
        raise InvalidImage("not an uploaded file")
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


def _read_file(path: str, root: str, limit: int) -> bytes:
    """A regular file inside ``root``, opened without following links and checked by its real path."""
    if not os.path.isabs(path) or not os.path.isabs(root):
        raise InvalidImage("not a file of the ingested folder")
    try:
        fd = os.open(path, _FILE_FLAGS)
    except OSError as exc:
        raise InvalidImage(f"could not read: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as fh:
        try:
            _check_real_path(fd, path, root)
        except SourceRefused as exc:
            raise InvalidImage(exc.reason) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InvalidImage("not a regular file")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise InvalidImage(f"file too large: over {limit} bytes")
    return data


def _read_url(url: str, limit: int) -> bytes:
    """The image at ``url`` (checked, pinned, bounded: ``url_fetch``); viewers see only a generic reason."""
    try:
        return url_fetch.fetch(url, limit)
    except url_fetch.TooLarge as exc:
        raise InvalidImage(str(exc)) from None
    except url_fetch.FetchFailed as exc:
        log.warning("download of %s failed: %s", url, exc)
        raise InvalidImage(url_fetch.GENERIC_REASON) from None
