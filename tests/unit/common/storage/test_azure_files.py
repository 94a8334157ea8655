"""The Azure Files blob store, real SDK code, against documented REST responses over HTTP."""

import pytest

from common.storage.azure_files import AzureFilesBlobStore, walk_share
from common.storage.base import BlobNotFound, InvalidKey
from tests.support.azure_files_server import AzureFilesServer


@pytest.fixture
def server():
    with AzureFilesServer() as srv:
        yield srv


def test_put_creates_parent_directories_and_round_trips(server):
    store = AzureFilesBlobStore.from_connection_string(server.connection_string, "share", prefix="blobs")
    data = bytes(range(256)) * 40
    store.put("images/ab/cd/abcd.jpg", data)
    assert {"blobs", "blobs/images", "blobs/images/ab", "blobs/images/ab/cd"} <= server.state.dirs
    assert store.exists("images/ab/cd/abcd.jpg")
    assert store.get("images/ab/cd/abcd.jpg") == data
    # a second object in the same directory does not re-create directories
    creates_before = sum(1 for m, p in server.state.requests if m == "PUT" and "restype=directory" in p)
    store.put("images/ab/cd/other.jpg", b"x")
    creates_after = sum(1 for m, p in server.state.requests if m == "PUT" and "restype=directory" in p)
    assert creates_after == creates_before


def test_missing_blob_and_bad_keys(server):
    store = AzureFilesBlobStore.from_connection_string(server.connection_string, "share")
    assert not store.exists("images/aa/bb/missing.jpg")
    with pytest.raises(BlobNotFound):
        store.get("images/aa/bb/missing.jpg")
    store.delete("images/aa/bb/missing.jpg")  # deleting what is gone is fine
    with pytest.raises(InvalidKey):
        store.put("../outside", b"x")


def test_walk_recurses_one_level_listings(server):
    store = AzureFilesBlobStore.from_connection_string(server.connection_string, "share", prefix="")
    for key in ("photos/a.jpg", "photos/2024/b.jpg", "photos/2024/q1/c.png", "other/d.jpg"):
        store.put(key, b"1234")
    found = sorted(path for path, _size in walk_share(store.share, "photos"))
    assert found == ["photos/2024/b.jpg", "photos/2024/q1/c.png", "photos/a.jpg"]
    assert all(size == 4 for _path, size in walk_share(store.share, "photos"))
