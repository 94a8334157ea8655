"""Artifacts: joblib bytes are unpickled only under their pinned key, with a matching SHA-256 and HMAC."""

import os
import pickle
import uuid

import pytest

from common.classifier import signing
from common.classifier.artifacts import (
    ArtifactIntegrityError,
    artifact_key,
    dump_model,
    load_artifact,
    load_verified,
    save_artifact,
    sign,
)
from common.classifier.model import OpenSetClassifier
from common.classifier.synthetic import clustered
from common.infra.settings import Settings
from common.storage import sha256_hex
from common.storage.local import LocalBlobStore


def _model():
    _, x, y = clustered(3, 3, seed=0)
    return OpenSetClassifier().fit(x, [uuid.UUID(int=int(i) + 1) for i in y])


def test_round_trip_through_the_blob_store_predicts_the_same(tmp_path):
    model = _model()
    store = LocalBlobStore(tmp_path)
    data = dump_model(model)
    key, sha = save_artifact(store, data)
    assert key == f"models/{sha[:2]}/{sha[2:4]}/{sha}.joblib"
    loaded = load_artifact(store, key, sha, sign(data))
    _, x, _ = clustered(3, 3, seed=0)
    assert loaded.predict(x) == model.predict(x)


def test_changed_bytes_are_refused(tmp_path):
    store = LocalBlobStore(tmp_path)
    data = dump_model(_model())
    key, sha = save_artifact(store, data)
    changed = bytearray(data)
    changed[len(changed) // 2] ^= 0xFF
    store.put(key, bytes(changed))
    with pytest.raises(ArtifactIntegrityError):
        load_artifact(store, key, sha, sign(data))


def test_a_key_that_is_not_the_checksums_pinned_key_is_refused_before_reading(tmp_path):
    store = LocalBlobStore(tmp_path)
    data = dump_model(_model())
    _, sha = save_artifact(store, data)
    store.put("uploads/job/x.joblib", data)
    with pytest.raises(ArtifactIntegrityError, match="key"):
        load_artifact(store, "uploads/job/x.joblib", sha, sign(data))
    with pytest.raises(ArtifactIntegrityError):
        artifact_key("not-a-sha")


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_a_malicious_pickle_is_never_unpickled_without_a_valid_signature(tmp_path):
    marker = str(tmp_path / "pwned")
    evil = pickle.dumps(_Payload(marker))
    with pytest.raises(ArtifactIntegrityError):
        load_verified(evil, sha256_hex(b"the registered artifact"), sign(evil))
    with pytest.raises(ArtifactIntegrityError):
        load_verified(evil, "", sign(evil))
    with pytest.raises(ArtifactIntegrityError, match="not signed"):
        load_verified(evil, sha256_hex(evil), "")  # checksum right (same row), no signature: refused
    with pytest.raises(ArtifactIntegrityError, match="signature"):
        load_verified(evil, sha256_hex(evil), signing.sign(evil, b"x" * 32))  # signed with another key
    assert not os.path.exists(marker)


def test_the_signing_key_comes_from_the_environment_or_a_generated_local_file_only(tmp_path):
    given = Settings(artifact_hmac_key="k" * 40, state_dir=tmp_path)
    assert signing.signing_key(given) == b"k" * 40
    with pytest.raises(signing.SigningKeyMissing):
        signing.signing_key(Settings(artifact_hmac_key="short", state_dir=tmp_path))
    local = Settings(state_dir=tmp_path, storage_backend="local", cassandra_flavor="apache")
    first = signing.signing_key(local)
    assert first == signing.signing_key(local) and len(first) >= signing.MIN_KEY_CHARS
    assert (tmp_path / signing.KEY_FILE).stat().st_mode & 0o077 == 0
    with pytest.raises(signing.SigningKeyMissing):  # production shapes never fall back to a generated key
        signing.signing_key(Settings(state_dir=tmp_path, cassandra_flavor="cosmos"))
    with pytest.raises(signing.SigningKeyMissing):
        signing.signing_key(Settings(state_dir=tmp_path, storage_backend="azure-files"))
