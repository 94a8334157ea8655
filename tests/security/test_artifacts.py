"""Model artifacts: a database write alone must never make a worker or the web app unpickle attacker bytes.

The attacker can write ``model_versions`` rows (and put bytes in the blob store, e.g. through an upload),
but does not hold ``PP_ARTIFACT_HMAC_KEY``. Before the fix, key and checksum came from the same row and the
key was not pinned: pointing a version at an uploaded pickle ran its code on load.
"""

from __future__ import annotations

import argparse
import os
import pickle
import uuid

import pytest

from common.classifier import clear_cache, load_active, registry
from common.classifier.artifacts import dump_model, save_artifact, sign
from common.classifier.model import OpenSetClassifier
from common.classifier.synthetic import clustered
from common.repositories import models as models_repo
from common.storage import content_key, get_blob_store, sha256_hex
from trainer_worker.cli import cmd_models

pytestmark = pytest.mark.integration


class _Payload:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _register(db, signed: bool = True, seed: int = 1) -> int:
    _, x, y = clustered(2, 3, seed=seed)
    data = dump_model(OpenSetClassifier().fit(x, [uuid.UUID(int=int(i) + 1) for i in y]))
    key, sha = save_artifact(get_blob_store(), data)
    version = models_repo.next_version(db)
    models_repo.insert_version(db, models_repo.ModelVersion(version, registry.CANDIDATE, metrics={"macro_f1": 1.0},
                                                      artifact_key=key, artifact_sha256=sha,
                                                      artifact_hmac=sign(data) if signed else ""))  # fmt: skip
    return version


def _point_row_at(db, version: int, key: str, sha: str) -> None:
    """The attacker's database write."""
    db.execute("UPDATE model_versions SET artifact_key = ?, artifact_sha256 = ? WHERE bucket = ? AND version = ?",
               (key, sha, models_repo.BUCKET, version))  # fmt: skip


def test_a_database_write_pointing_a_version_at_uploaded_bytes_runs_no_code(login, web_db, tmp_path):
    db = web_db
    clear_cache()
    good = _register(db, seed=4141)
    registry.promote(db, good, "admin", reclassify=False)
    assert load_active(db, max_age=0).version == good
    marker = str(tmp_path / "pwned")
    evil = pickle.dumps(_Payload(marker))
    store = get_blob_store()
    planted = ["uploads/attacker/model.joblib", content_key("models", sha256_hex(evil), ".joblib")]
    store.put(planted[0], evil)  # bytes the attacker could get into the store
    store.put(planted[1], evil)  # even under the pinned key
    try:
        _attack(db, login, good, evil, marker)
    finally:
        for key in planted:
            store.delete(key)


def _attack(db, login, good: int, evil: bytes, marker: str) -> None:
    victim = _register(db, seed=4343)
    admin = login("admin")
    _point_row_at(db, victim, "uploads/attacker/model.joblib", sha256_hex(evil))  # key not pinned
    assert admin.post_json(f"/api/v1/models/{victim}/promote", {}).status_code == 409
    _point_row_at(db, victim, content_key("models", sha256_hex(evil), ".joblib"), sha256_hex(evil))  # unsigned
    assert admin.post_json(f"/api/v1/models/{victim}/promote", {}).status_code == 409
    assert not os.path.exists(marker)
    assert models_repo.active_version(db) == good

    # the same write on the ACTIVE version: workers stop serving it rather than unpickle it
    _point_row_at(db, good, content_key("models", sha256_hex(evil), ".joblib"), sha256_hex(evil))
    clear_cache()
    assert load_active(db, max_age=0) is None
    with pytest.raises(ValueError):
        registry.load_model(db, good)
    assert not os.path.exists(marker)


def test_versions_from_before_signing_load_only_after_an_operator_resigns_them(clean_tables, capsys):
    db = clean_tables
    clear_cache()
    old = _register(db, signed=False, seed=4444)
    with pytest.raises(ValueError, match="not signed"):
        registry.promote(db, old, "admin", reclassify=False)
    args = argparse.Namespace(action="resign", version=None, reason="", limit=50, json=False)
    assert cmd_models(args) == 0
    assert f"v{old}" in capsys.readouterr().out
    assert models_repo.get_version(db, old).artifact_hmac
    registry.promote(db, old, "admin", reclassify=False)
    assert load_active(db, max_age=0).version == old
    # resign never signs bytes that do not match their row
    other = _register(db, signed=False, seed=4242)
    store = get_blob_store()
    key = models_repo.get_version(db, other).artifact_key
    original = store.get(key)
    store.put(key, original + b"tampered")
    try:
        with pytest.raises(ValueError):
            registry.resign(db, other)
        assert models_repo.get_version(db, other).artifact_hmac == ""
    finally:
        store.put(key, original)  # content-addressed: other tests may register the same bytes
