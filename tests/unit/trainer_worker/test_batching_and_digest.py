"""Plain trainer functions: full-pass shards cover the token ring and keep an image's faces together; the data
digest identifies input."""

import argparse
import itertools
import uuid

import numpy as np

from common.infra.messages import TOKEN_MAX, TOKEN_MIN
from common.repositories.face_cards import PassFace
from trainer_worker.cli import register
from trainer_worker.reclassify import TokenRange, _chunks, cut_ranges
from trainer_worker.training_data import TrainingData


def _covering(ranges, token):
    return [r for r in ranges if r.start < token <= r.end]


def test_shards_cover_the_whole_token_ring_are_about_the_requested_size_and_never_split_an_image():
    rng = np.random.default_rng(3)
    image_tokens = rng.integers(TOKEN_MIN + 1, TOKEN_MAX, size=400, dtype=np.int64)
    faces = np.sort(np.repeat(image_tokens, rng.integers(1, 6, size=400)))  # 1-5 faces per image
    cut = list(cut_ranges((int(t) for t in faces), 100))
    ranges = [r for r, _ in cut]
    assert ranges[0].start == TOKEN_MIN and ranges[-1].end == TOKEN_MAX
    assert all(a.end == b.start for a, b in itertools.pairwise(ranges))  # contiguous, no gap
    assert sum(n for _, n in cut) == len(faces)
    assert all(100 <= n <= 104 for _, n in cut[:-1]) and cut[-1][1] <= 104  # at most one image over
    for token in image_tokens:  # every face of an image in exactly one shard
        assert len(_covering(ranges, int(token))) == 1
    for r, n in cut:
        assert n == int(((faces > r.start) & (faces <= r.end)).sum())


def test_an_empty_corpus_is_one_shard_and_a_resumed_cut_starts_at_its_cursor():
    assert [r for r, _ in cut_ranges([], 10)] == [TokenRange(TOKEN_MIN, TOKEN_MAX)]
    assert list(cut_ranges([5, 6, 7], 2, start=4)) == [(TokenRange(4, 6), 2), (TokenRange(6, TOKEN_MAX), 1)]
    assert list(cut_ranges([TOKEN_MAX, TOKEN_MAX], 1)) == [(TokenRange(TOKEN_MIN, TOKEN_MAX), 2)]
    assert list(cut_ranges([1, 1, 1, 2], 2)) == [(TokenRange(TOKEN_MIN, 1), 3), (TokenRange(1, TOKEN_MAX), 1)]


def test_a_shard_is_written_in_chunks_of_whole_images():
    faces = [PassFace(t, f"img{t}", f"face{t}-{i}", True, {}, None, None) for t in range(50) for i in range(t % 3 + 1)]
    chunks = list(_chunks(faces, 10))
    assert [f for c in chunks for f in c] == faces
    assert all(10 <= len(c) <= 12 for c in chunks[:-1])
    assert all(a[-1].token != b[0].token for a, b in itertools.pairwise(chunks))


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
