"""Artifacts: joblib bytes are unpickled only when their SHA-256 matches the registry's."""

import os
import pickle
import uuid

import pytest

from common.classifier.artifacts import ArtifactIntegrityError, dump_model, load_artifact, load_verified, save_artifact
from common.classifier.model import OpenSetClassifier
from common.classifier.synthetic import clustered
from common.storage import sha256_hex
from common.storage.local import LocalBlobStore


def _model():
    _, x, y = clustered(3, 3, seed=0)
    return OpenSetClassifier().fit(x, [uuid.UUID(int=int(i) + 1) for i in y])


def test_round_trip_through_the_blob_store_predicts_the_same(tmp_path):
    model = _model()
    store = LocalBlobStore(tmp_path)
    key, sha = save_artifact(store, dump_model(model))
    assert key.startswith("models/") and key.endswith(".joblib") and sha in key
    loaded = load_artifact(store, key, sha)
    _, x, _ = clustered(3, 3, seed=0)
    assert loaded.predict(x) == model.predict(x)


def test_changed_bytes_are_refused(tmp_path):
    store = LocalBlobStore(tmp_path)
    key, sha = save_artifact(store, dump_model(_model()))
    data = bytearray(store.get(key))
    data[len(data) // 2] ^= 0xFF
    store.put(key, bytes(data))
    with pytest.raises(ArtifactIntegrityError):
        load_artifact(store, key, sha)


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_a_malicious_pickle_is_never_unpickled_when_the_checksum_differs(tmp_path):
    marker = str(tmp_path / "pwned")
    evil = pickle.dumps(_Payload(marker))
    with pytest.raises(ArtifactIntegrityError):
        load_verified(evil, sha256_hex(b"the registered artifact"))
    with pytest.raises(ArtifactIntegrityError):
        load_verified(evil, "")
    assert not os.path.exists(marker)
