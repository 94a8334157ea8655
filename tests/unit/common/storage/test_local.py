import pytest

from common.storage.base import InvalidKey, content_key, sha256_hex
from common.storage.local import LocalBlobStore


def test_round_trip_and_content_addressing(tmp_path):
    store = LocalBlobStore(tmp_path)
    data = b"hello faces"
    key = content_key("images", sha256_hex(data), ".jpg")
    assert key.startswith("images/") and key.endswith(".jpg")
    assert store.put_if_absent(key, data) is True
    assert store.put_if_absent(key, data) is False
    assert store.get(key) == data
    assert store.exists(key)
    store.delete(key)
    assert not store.exists(key)


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs/path", "images/../../x", "images//x", "images/.hidden", ""])
def test_keys_that_could_escape_are_refused(tmp_path, key):
    store = LocalBlobStore(tmp_path / "store")
    with pytest.raises(InvalidKey):
        store.put(key, b"x")


def test_writes_are_atomic_no_temp_files_left(tmp_path):
    store = LocalBlobStore(tmp_path)
    store.put("crops/aa/bb/f.jpg", b"1" * 10000)
    leftovers = [p for p in tmp_path.rglob("*") if p.name.startswith(".tmp-")]
    assert leftovers == []
