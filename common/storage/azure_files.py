"""Blob store on an Azure Files share (azure-storage-file-share).

Azure Files has no atomic rename across the REST API we use, but a file is
created and written in one ``upload_file`` call (create + put-range), and keys
are content-addressed, so a reader never sees a different object under a key.
Directory listing in the SDK is one level at a time: :func:`walk_share` recurses.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import BinaryIO

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.fileshare import ShareClient

from common.storage.base import BlobNotFound, BlobStore, validate_key


class AzureFilesBlobStore(BlobStore):
    def __init__(self, share: ShareClient, prefix: str = "blobs"):
        self.share = share
        self.prefix = prefix.strip("/")
        self._made_dirs: set[str] = set()

    @classmethod
    def from_connection_string(cls, conn_str: str, share_name: str, prefix: str = "blobs", **kwargs):
        return cls(ShareClient.from_connection_string(conn_str, share_name=share_name, **kwargs), prefix)

    def _path(self, key: str) -> str:
        key = validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _ensure_dirs(self, path: str) -> None:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            directory = "/".join(parts[:i])
            if directory in self._made_dirs:
                continue
            with contextlib.suppress(ResourceExistsError):
                self.share.get_directory_client(directory).create_directory()
            self._made_dirs.add(directory)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        self._ensure_dirs(path)
        self.share.get_file_client(path).upload_file(data)

    def put_stream(self, key: str, stream: BinaryIO, size: int) -> None:
        """The SDK sends the stream in ranges (4 MiB each), never reading it whole."""
        path = self._path(key)
        self._ensure_dirs(path)
        self.share.get_file_client(path).upload_file(stream, length=size)

    def get(self, key: str) -> bytes:
        try:
            return self.share.get_file_client(self._path(key)).download_file().readall()
        except ResourceNotFoundError:
            raise BlobNotFound(key) from None

    def exists(self, key: str) -> bool:
        try:
            self.share.get_file_client(self._path(key)).get_file_properties()
            return True
        except ResourceNotFoundError:
            return False

    def delete(self, key: str) -> None:
        with contextlib.suppress(ResourceNotFoundError):
            self.share.get_file_client(self._path(key)).delete_file()


def walk_share(share: ShareClient, directory: str = "") -> Iterator[tuple[str, int]]:
    """Every file under ``directory`` as (path, size), depth first, in listing order."""
    pending = [directory.strip("/")]
    while pending:
        current = pending.pop()
        client = share.get_directory_client(current)
        for item in client.list_directories_and_files():
            path = f"{current}/{item['name']}" if current else item["name"]
            if item.get("is_directory"):
                pending.append(path)
            else:
                yield path, int(item.get("size") or 0)
