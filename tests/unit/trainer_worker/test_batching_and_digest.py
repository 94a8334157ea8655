"""Plain trainer functions: reclassify batches keep an image's faces together; the data digest identifies input."""

import argparse
import uuid

import numpy as np

from trainer_worker.cli import register
from trainer_worker.reclassify import plan_batches
from trainer_worker.training_data import TrainingData


def test_batches_are_about_the_requested_size_and_never_split_an_image():
    pairs = sorted((f"img{i // 3:04d}", f"face{i:05d}") for i in range(1000))  # 3 faces per image
    batches = plan_batches(pairs, 100)
    assert sum(len(b) for b in batches) == 1000
    assert all(100 <= len(b) <= 102 for b in batches[:-1])
    image_of = {face: image for image, face in pairs}
    seen: dict[str, int] = {}
    for n, batch in enumerate(batches):
        for face in batch:
            assert seen.setdefault(image_of[face], n) == n
    assert plan_batches([], 10) == []


def _data(confirmed, rejected=()):
    d = TrainingData()
    d.face_ids = [f for f, _ in confirmed]
    d.persona_ids = [p for _, p in confirmed]
    d.embeddings = np.zeros((len(confirmed), 128), np.float32)
    d.rejected_face_ids = [f for f, _ in rejected]
    d.rejected_persona_ids = [p for _, p in rejected]
    return d


def test_the_digest_changes_with_any_label_and_not_with_order():
    a, b = uuid.UUID(int=1), uuid.UUID(int=2)
    params = {"unknown_distance": 0.6}
    base = _data([("f1", a), ("f2", b)]).digest(params)
    assert _data([("f2", b), ("f1", a)]).digest(params) == base
    assert _data([("f1", a), ("f2", a)]).digest(params) != base
    assert _data([("f1", a), ("f2", b)], [("f3", a)]).digest(params) != base
    assert _data([("f1", a), ("f2", b)]).digest({"unknown_distance": 0.5}) != base
    counts = _data([("f1", a), ("f2", b)], [("f3", a)]).label_counts
    assert counts["confirmed"] == 2 and counts["rejected"] == 1 and counts["personas"] == 2


def test_cli_offers_models_and_retrain_commands():
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["models", "promote", "7"]).version == 7
    assert parser.parse_args(["models", "rollback"]).action == "rollback"
    assert parser.parse_args(["retrain", "--wait"]).wait is True
