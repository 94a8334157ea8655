"""Streamed writes (uploads): both blob stores copy a stream in chunks, never reading it whole."""

from __future__ import annotations

import io

import pytest

from common.storage.azure_files import AzureFilesBlobStore
from common.storage.base import CHUNK_BYTES
from common.storage.local import LocalBlobStore
from tests.support.azure_files_server import AzureFilesServer

DATA = bytes(range(256)) * (9 * 4096 + 7)  # ~9.4 MB: more than two Azure ranges, several local chunks


class CountingStream(io.BytesIO):
    """Remembers the largest single read, so a test can tell "chunks" from "everything at once"."""

    largest = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.largest = max(self.largest, len(data))
        return data


def test_local_store_streams_in_chunks(tmp_path):
    store = LocalBlobStore(tmp_path)
    stream = CountingStream(DATA)
    store.put_stream("uploads/x", stream, len(DATA))
    assert store.get("uploads/x") == DATA and stream.largest <= CHUNK_BYTES
    assert not [p for p in tmp_path.rglob(".tmp-*")]


def test_local_store_refuses_a_short_stream_and_leaves_nothing(tmp_path):
    store = LocalBlobStore(tmp_path)
    with pytest.raises(ValueError, match="early"):
        store.put_stream("uploads/short", io.BytesIO(b"abc"), 10)
    assert not store.exists("uploads/short") and not [p for p in tmp_path.rglob(".tmp-*")]


def test_azure_files_store_streams_in_ranges():
    with AzureFilesServer() as server:
        store = AzureFilesBlobStore.from_connection_string(server.connection_string, "share", prefix="blobs")
        stream = CountingStream(DATA)
        store.put_stream("uploads/x", stream, len(DATA))
        assert store.get("uploads/x") == DATA
        assert stream.largest < len(DATA)
        ranges = [p for m, p in server.state.requests if m == "PUT" and "comp=range" in p]
        assert len(ranges) >= 3
