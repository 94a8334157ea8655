"""The model registry on the real Cassandra and blob store: version numbers, promotion, rollback, checksums."""

import threading
import time
import uuid

import pytest

from common.classifier import ArtifactIntegrityError, clear_cache, load_active, registry
from common.classifier.artifacts import dump_model, save_artifact, sign
from common.classifier.model import OpenSetClassifier
from common.classifier.synthetic import clustered
from common.repositories import models as models_repo
from common.storage import get_blob_store


def _register(db, seed: int, macro_f1: float = 1.0) -> int:
    _, x, y = clustered(2, 3, seed=seed)
    model = OpenSetClassifier().fit(x, [uuid.UUID(int=int(i) + 1) for i in y])
    data = dump_model(model)
    key, sha = save_artifact(get_blob_store(), data)
    version = models_repo.next_version(db)
    models_repo.insert_version(db, models_repo.ModelVersion(version, registry.CANDIDATE, metrics={"macro_f1": macro_f1},
                                                      artifact_key=key, artifact_sha256=sha,
                                                      artifact_hmac=sign(data)))  # fmt: skip
    return version


def test_version_numbers_are_unique_when_allocated_concurrently(clean_tables):
    db = clean_tables
    got: list[int] = []

    def take():
        for _ in range(8):
            got.append(models_repo.next_version(db))

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 33))


def test_promote_then_rollback_restores_the_previous_version_and_keeps_history(clean_tables):
    db = clean_tables
    v1, v2, v3 = _register(db, 1), _register(db, 2), _register(db, 3)
    registry.promote(db, v1, "alice", "first", reclassify=False)
    registry.promote(db, v2, "alice", "better", reclassify=False)
    registry.promote(db, v3, "bob", "newest", reclassify=False)
    assert models_repo.active_version(db) == v3
    assert registry.rollback(db, "carol", reclassify=False) == v2
    assert models_repo.active_version(db) == v2
    assert models_repo.get_version(db, v3).status == registry.RETIRED
    assert models_repo.get_version(db, v2).status == registry.ACTIVE
    assert registry.rollback(db, "carol", reclassify=False) == v1  # rollbacks unwind, they do not toggle
    with pytest.raises(registry.RegistryError):
        registry.rollback(db, "carol", reclassify=False)
    actions = [(h.action, h.version, h.previous_version) for h in models_repo.history(db)]
    assert actions[:2] == [("rollback", v1, v2), ("rollback", v2, v3)]
    assert [v.version for v in models_repo.list_versions(db)] == [v3, v2, v1]
    with pytest.raises(registry.RegistryError):
        registry.promote(db, 999, "alice", reclassify=False)


def test_a_tampered_artifact_refuses_to_load_and_cannot_be_promoted_or_served(clean_tables):
    db = clean_tables
    clear_cache()
    v1 = _register(db, 4)
    registry.promote(db, v1, "alice", reclassify=False)
    assert load_active(db, max_age=0).version == v1
    v2 = _register(db, 5)
    store = get_blob_store()
    key = models_repo.get_version(db, v2).artifact_key
    data = bytearray(store.get(key))
    data[-10] ^= 0x01
    store.put(key, bytes(data))
    with pytest.raises(ArtifactIntegrityError):
        registry.load_model(db, v2)
    with pytest.raises(ArtifactIntegrityError):
        registry.promote(db, v2, "alice", reclassify=False)
    assert models_repo.active_version(db) == v1  # nothing changed
    # if the active model's bytes change later, workers stop serving it rather than load it
    key1 = models_repo.get_version(db, v1).artifact_key
    store.put(key1, store.get(key1) + b"\0")
    clear_cache()
    assert load_active(db, max_age=0) is None


def test_workers_hot_reload_a_newly_promoted_version(clean_tables):
    db = clean_tables
    clear_cache()
    assert load_active(db, max_age=0) is None
    v1, v2 = _register(db, 6), _register(db, 7)
    registry.promote(db, v1, "alice", reclassify=False)
    assert load_active(db, max_age=60).version == v1  # "no model" is never cached: the first model is seen at once
    registry.promote(db, v2, "alice", reclassify=False)
    assert load_active(db, max_age=0.5).version == v1  # a model is cached for up to max_age
    time.sleep(0.6)
    assert load_active(db, max_age=0.5).version == v2
