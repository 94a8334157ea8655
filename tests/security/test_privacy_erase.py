"""A privacy erase reaches every copy: after ``DELETE /api/v1/personas/{id}?erase_faces=true`` no table, blob
(model artifacts included) or Redis key still holds an erased face's id or embedding; the remaining models
work, and a rollback can never bring the erased faces back."""

from __future__ import annotations

import base64
import contextlib
import uuid
from pathlib import Path

import joblib
import numpy as np
import pytest

from common.classifier import clear_cache, registry
from common.classifier.model import OpenSetClassifier, normalize
from common.infra import messages
from common.infra.celery_app import celery_app, queue_lists
from common.infra.messages import ReclassifyBatch
from common.infra.settings import get_settings
from common.labeling import actions as labeling
from common.repositories import faces
from common.repositories import models as models_repo
from common.repositories.faces import encode_embedding
from common.storage import sha256_hex
from tests.conftest import TEST_KEYSPACE
from tests.support import seed
from trainer_worker.reclassify import reclassify_all, reclassify_shard
from trainer_worker.training import run_training

pytestmark = pytest.mark.integration


def _reclassify(db, client):
    """The active version's full pass, here and now (the shard messages collected and run in turn)."""
    clear_cache()
    shards: list = []
    reclassify_all(db, client, models_repo.active_version(db), shards.append)
    assert [reclassify_shard(db, client, shard).status for shard in shards] == ["done"] * len(shards)


def send(message):
    return messages.send(message, celery_app.send_task)


def _world(db):
    """Ada (3 photos, one also showing a stranger) and Bob (3 photos, 2 unlabeled faces), all labeled by hand."""
    rng = np.random.default_rng(5)
    ada_c, bob_c, stranger_c = seed.centers(3, seed=11)
    ada_images = [seed.seed_image(db, [seed.embedding_near(ada_c, rng)], f"ada-{i}.jpg", seed=100 + i)
                  for i in range(2)]  # fmt: skip
    ada_images.append(seed.seed_image(db, [seed.embedding_near(ada_c, rng), seed.embedding_near(stranger_c, rng)],
                                      "ada-and-stranger.jpg", seed=102))  # fmt: skip
    bob_faces = [seed.seed_image(db, [seed.embedding_near(bob_c, rng)], f"bob-{i}.jpg", seed=200 + i).face_ids[0]
                 for i in range(5)]  # fmt: skip
    ada = labeling.create_persona(db, "Ada", "labeler")
    bob = labeling.create_persona(db, "Bob", "labeler")
    return ada, bob, ada_images, bob_faces


def _search_tables(db, needles: list[str], vectors: list[bytes]) -> list[str]:
    found = []
    tables = [r.table_name for r in db.execute(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?", (TEST_KEYSPACE,))]  # fmt: skip
    for table in tables:
        for row in db.execute(f"SELECT * FROM {table}", fetch_size=500):
            for column, value in row._asdict().items():
                raw = value if isinstance(value, bytes) else repr(value).encode()
                if any(n.encode() in raw for n in needles) or any(v in raw for v in vectors):
                    found.append(f"{table}.{column}")
    return found


def _search_blobs(root: Path, needles: list[str], vectors: list[bytes], unit: np.ndarray) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if any(n.encode() in data for n in needles) or any(v in data for v in vectors):
            found.append(str(path))
        if path.suffix == ".joblib" and sha256_hex(data) == path.stem:  # other tests leave tampered ones
            model = joblib.load(path)  # the test run's own blob root: trusted
            if not isinstance(model, OpenSetClassifier):
                continue
            for name, array in vars(model).items():
                matrix = isinstance(array, np.ndarray) and array.ndim == 2 and array.shape[1] == 128 and len(array)
                if matrix and ((normalize(array) @ unit.T) > 0.9999).any():
                    found.append(f"{path} ({name})")
    return found


def _search_redis(client, needles: list[str], vectors: list[bytes]) -> list[str]:
    patterns = [n.encode() for n in needles] + vectors + [base64.b64encode(v) for v in vectors]
    found = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        if kind == "string":
            values = [client.get(key) or b""]
        elif kind == "list":
            values = client.lrange(key, 0, -1)
        elif kind == "hash":
            values = [k + b" " + v for k, v in client.hgetall(key).items()]
        elif kind == "set":
            values = list(client.smembers(key))
        elif kind == "zset":
            values = [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
        else:
            values = []
        texts = [key, *values]
        for text in texts:
            decoded = [text]
            for chunk in text.split(b'"'):  # kombu message bodies are base64 JSON
                if len(chunk) > 40:
                    with contextlib.suppress(ValueError):
                        decoded.append(base64.b64decode(chunk, validate=True))
            if any(p in d for p in patterns for d in decoded):
                found.append(key.decode(errors="replace"))
                break
    return found


def test_erasing_a_persona_leaves_no_copy_of_its_faces_anywhere(login, web_db, redis_client):
    db = web_db
    ada, bob, ada_images, bob_faces = _world(db)
    ada_faces = [f for image in ada_images for f in image.face_ids]
    ada_confirmed = [image.face_ids[0] for image in ada_images]
    stranger = ada_images[2].face_ids[1]
    labeling.confirm(db, ada_confirmed[0], ada.persona_id, "labeler")
    labeling.confirm(db, ada_confirmed[1], ada.persona_id, "labeler")
    labeling.reject(db, ada_confirmed[1], bob.persona_id, "labeler")  # a negative of Bob in every model
    labeling.confirm(db, bob_faces[0], bob.persona_id, "labeler")
    labeling.confirm(db, bob_faces[1], bob.persona_id, "labeler")
    v1 = run_training(db, reason="test").version
    _reclassify(db, redis_client)
    labeling.confirm(db, ada_confirmed[2], ada.persona_id, "labeler")
    labeling.confirm(db, bob_faces[2], bob.persona_id, "labeler")
    v2 = run_training(db, reason="test").version
    assert models_repo.active_version(db) == v2 and models_repo.get_version(db, v1).status == registry.RETIRED
    _reclassify(db, redis_client)
    assert faces.get(db, stranger) is not None

    redis_client.delete(*queue_lists("reclassify"), "unacked", "unacked_index")
    assert reclassify_all(db, redis_client, v2, send) >= 1  # a pass's shards pending (token ranges only)
    send(ReclassifyBatch(face_ids=tuple(ada_faces)))  # new faces' predictions pending, naming the faces
    viewer = login("viewer")
    for path in (f"/personas/{ada.persona_id}", f"/images/{ada_images[2].image_id}", f"/personas/{bob.persona_id}"):
        assert viewer.get(path).status_code == 200  # rendered pages kept in the page cache
    assert any(redis_client.scan_iter(match=f"pp:{TEST_KEYSPACE}:page:*"))

    vectors = [faces.get(db, f).embedding for f in ada_faces]
    raw = [encode_embedding(v) for v in vectors]
    unit = normalize(np.asarray(vectors, np.float32))
    # the needles are there before the erase (the search works)
    assert _search_tables(db, ada_faces, raw) and _search_redis(redis_client, ada_faces, raw)
    assert _search_blobs(get_settings().blob_root, ada_faces, raw, unit)

    admin = login("admin")
    response = admin.post_json(f"/api/v1/personas/{ada.persona_id}?erase_faces=true", method="DELETE")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["payload"]["images_erased"] == 3

    assert _search_tables(db, ada_faces, raw) == []
    assert _search_blobs(get_settings().blob_root, ada_faces, raw, unit) == []
    assert _search_redis(redis_client, ada_faces, raw) == []

    # the versions holding Ada's faces are erased; the active one was rewritten without them and works
    assert {models_repo.get_version(db, v).status for v in (v1, v2)} == {registry.ERASED}
    active = models_repo.active_version(db)
    assert active not in (v1, v2, None)
    model = registry.load_model(db, active)
    assert model.persona_ids == [str(bob.persona_id)]
    # the rewritten version shows the per-persona figures of the one it replaced, for Bob only
    assert [row.persona_id for row in models_repo.persona_metrics(db, active)] == [str(bob.persona_id)]
    unlabeled_bob = np.asarray([faces.get(db, f).embedding for f in bob_faces[3:]])
    assert [r.persona_id for r in model.predict(unlabeled_bob)] == [bob.persona_id, bob.persona_id]
    # rollback and promotion can never bring an erased version back
    assert admin.post_json("/api/v1/models/rollback", {}).status_code == 409
    assert admin.post_json(f"/api/v1/models/{v1}/promote", {}).status_code == 409
    with pytest.raises(registry.RegistryError):
        registry.promote(db, v2, "admin", reclassify=False)
    assert models_repo.active_version(db) == active
    # a retrain on what is left works as before
    retrained = run_training(db, reason="after erase", force=True)
    assert retrained.status == registry.ACTIVE
    assert registry.load_model(db, retrained.version).persona_ids == [str(bob.persona_id)]
    assert uuid.UUID(model.persona_ids[0]) == bob.persona_id
