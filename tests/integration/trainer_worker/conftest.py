"""Helpers for trainer tests: personas, faces with synthetic embeddings, labels, a full pass run in this process;
a clean retrain state in Redis."""

from __future__ import annotations

import numpy as np
import pytest

from common.classifier import clear_cache
from common.infra.celery_app import queue_lists
from common.repositories import faces, ids, labels, personas
from common.repositories.faces import Face
from common.repositories.models import active_version
from tests.support.polling import wait_for  # noqa: F401  (the trainer tests' helper)
from trainer_worker.reclassify import ShardResult, reclassify_all, reclassify_shard


def add_face(db, embedding: np.ndarray, image_id: str, index: int = 0) -> str:
    box = (10 + 50 * index, 10, 40, 40)
    face_id = ids.face_id(image_id, box)
    faces.upsert(db, Face(face_id, image_id, box, "synthetic", 0.99, np.asarray(embedding, np.float32),
                          "synthetic-128", ""))  # fmt: skip
    return face_id


def add_faces(db, embeddings: np.ndarray, image_prefix: str) -> list[str]:
    """One face per image."""
    return [add_face(db, e, f"{image_prefix}-{i:04d}") for i, e in enumerate(embeddings)]


def confirm(db, face_ids, persona_id, actor="tester"):
    for face_id in face_ids:
        labels.put(db, face_id, persona_id, labels.CONFIRM, actor)


def make_persona(db, name):
    return personas.create(db, name, "tester")


def run_full_pass(db, redis_client, shard_faces: int | None = None) -> tuple[list, list[ShardResult]]:
    """The active version's full pass, here and now: the fan-out's shard messages, each run in turn."""
    clear_cache()
    sent: list = []
    reclassify_all(db, redis_client, active_version(db), sent.append, shard_faces=shard_faces)
    return sent, [reclassify_shard(db, redis_client, shard) for shard in sent]


@pytest.fixture
def fresh_retrain_state(redis_client):
    """No leftover tasks or coalescing keys from an earlier test."""
    for key in redis_client.scan_iter("retrain:*"):
        redis_client.delete(key)
    for key in redis_client.scan_iter("reclassify:*"):
        redis_client.delete(key)
    for queue in ("retrain", "reclassify"):
        redis_client.delete(*queue_lists(queue))
    redis_client.delete("unacked", "unacked_index")
    yield redis_client
