"""Azure Files as an ingest source: ``azurefiles://<share>/<dir>`` or ``https://<acct>.file.core.windows.net/<share>/<dir>``.

The connection string comes from settings (``PP_AZURE_FILES_CONNECTION_STRING``);
an https URL carrying a SAS token works without it. The SDK lists one directory
level at a time, so :func:`common.storage.azure_files.walk_share` recurses.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.fileshare import ShareClient

from common.settings import Settings
from common.storage.azure_files import walk_share
from input_worker.validation import InvalidImage


@dataclass(frozen=True)
class ShareLocation:
    share: str
    directory: str
    account_url: str | None = None  # https://<acct>.file.core.windows.net
    sas: str | None = None


def is_share_url(source: str) -> bool:
    parts = urlsplit(source)
    return parts.scheme == "azurefiles" or (
        parts.scheme == "https" and (parts.hostname or "").endswith(".file.core.windows.net")
    )


def parse_share_url(source: str) -> ShareLocation:
    parts = urlsplit(source)
    if parts.scheme == "azurefiles":
        share, directory = parts.netloc, unquote(parts.path).strip("/")
        if not share:
            raise ValueError(f"no share name in {source!r} (expected azurefiles://<share>/<dir>)")
        return ShareLocation(share, directory)
    segments = unquote(parts.path).strip("/").split("/", 1)
    if not segments[0]:
        raise ValueError(f"no share name in {source!r}")
    directory = segments[1] if len(segments) > 1 else ""
    return ShareLocation(segments[0], directory.strip("/"), f"https://{parts.netloc}", parts.query or None)


def open_share(location: ShareLocation, settings: Settings, **client_kwargs) -> ShareClient:
    if settings.azure_files_connection_string is not None:
        return ShareClient.from_connection_string(
            settings.azure_files_connection_string.get_secret_value(), share_name=location.share, **client_kwargs
        )
    if location.account_url and location.sas:
        return ShareClient(location.account_url, location.share, credential=location.sas, **client_kwargs)
    raise ValueError("Azure Files source needs PP_AZURE_FILES_CONNECTION_STRING or a SAS token in the URL")


def list_files(share: ShareClient, directory: str) -> Iterator[tuple[str, str, int]]:
    """(path in share, path relative to ``directory``, size) for every file below ``directory``."""
    prefix = f"{directory}/" if directory else ""
    for path, size in walk_share(share, directory):
        yield path, path[len(prefix) :] if path.startswith(prefix) else path, size


def read_file(share: ShareClient, path: str, max_bytes: int) -> bytes:
    client = share.get_file_client(path)
    try:
        size = client.get_file_properties().size
        if size > max_bytes:
            raise InvalidImage(f"file too large: {size} bytes (limit {max_bytes})")
        return client.download_file().readall()
    except ResourceNotFoundError:
        raise InvalidImage(f"file vanished from the share: {path}") from None
