"""Azure Files as an ingest source: ``azurefiles://<share>/<dir>`` or ``https://<acct>.file.core.windows.net/<share>/<dir>``.

Which shares may be read is decided by :func:`common.ingest.sources.decide` (``PP_ALLOWED_INGEST_SHARES``,
the configured account only); this module only opens and reads them. The connection string
(``PP_AZURE_FILES_CONNECTION_STRING``) is the only credential: URLs carrying a SAS token are refused before
a job exists, so no token is ever saved, shown or logged. The SDK lists one directory level at a time, so
:func:`common.storage.azure_files.walk_share` recurses.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.fileshare import ShareClient

from common.images import InvalidImage
from common.infra.settings import Settings
from common.ingest.sources import AZURE, classify, decide
from common.storage.azure_files import walk_share


@dataclass(frozen=True)
class ShareLocation:
    share: str
    directory: str


def is_share_url(source: str) -> bool:
    try:
        return classify(source) == AZURE
    except ValueError:
        return False


def parse_share_url(source: str, settings: Settings) -> ShareLocation:
    """The allowed share and directory ``source`` names; refused sources raise ``SourceRefused``."""
    decision = decide(source, settings)
    if decision.kind != AZURE:
        raise ValueError("not an Azure Files path")
    return ShareLocation(decision.share, decision.directory)


def open_share(location: ShareLocation, settings: Settings, **client_kwargs) -> ShareClient:
    if settings.azure_files_connection_string is None:
        raise ValueError("Azure Files ingest needs PP_AZURE_FILES_CONNECTION_STRING")
    return ShareClient.from_connection_string(
        settings.azure_files_connection_string.get_secret_value(), share_name=location.share, **client_kwargs
    )


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
        data = client.download_file().readall()
    except ResourceNotFoundError:
        raise InvalidImage(f"file vanished from the share: {path}") from None
    if len(data) > max_bytes:  # grew after its size was read
        raise InvalidImage(f"file too large: over {max_bytes} bytes")
    return data
