"""``persona-pipeline testdata upload azurefiles://<share>/<dir> FOLDER``: a labeled folder onto a file share.

The files go through the project's Azure Files adapter (common/storage), keeping the folder's layout: each
sub-folder is a persona, as ``ingest --labels-from-folders`` reads it. Files already there with the same
size are skipped, so an interrupted upload runs again cheaply.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.fileshare import ShareClient

from common.storage.azure_files import AzureFilesBlobStore, walk_share

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"}


def parse_destination(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme != "azurefiles" or not parts.netloc:
        raise ValueError("destination must be azurefiles://<share>/<dir>")
    return parts.netloc.lower(), unquote(parts.path).strip("/")


def upload_folder(share: ShareClient, directory: str, folder: Path, say: Callable[[str], None] = print) -> int:
    """Upload every image under ``folder`` to ``directory`` on ``share``; returns how many were written."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    store = AzureFilesBlobStore(share, prefix=directory)
    present = _present(share, directory)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    written = 0
    for number, path in enumerate(files, 1):
        key = path.relative_to(folder).as_posix()
        remote = f"{directory}/{key}" if directory else key
        if present.get(remote) == path.stat().st_size:
            continue
        store.put(key, path.read_bytes())
        written += 1
        if number % 50 == 0:
            say(f"  {number}/{len(files)} files")
    say(f"testdata: {written} uploaded, {len(files) - written} already there ({share.share_name}/{directory})")
    return written


def _present(share: ShareClient, directory: str) -> dict[str, int]:
    """path -> size of the files already under ``directory`` (none when it does not exist yet)."""
    try:
        return dict(walk_share(share, directory))
    except ResourceNotFoundError:
        return {}
