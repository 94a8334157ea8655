"""The sharded full pass on the real Cassandra and Redis: shards carry only a token range; every unlabeled face
is predicted once by the new version; a redelivered shard or pass writes the same rows; an older version's
shards stop once a newer one is active and never leave older predictions over newer ones; progress reaches
done; new faces' predictions are served before the shards of a pass (a real worker)."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from cassandra.metadata import Murmur3Token

from common.classifier import clear_cache, load_active, registry
from common.classifier.synthetic import faces_of, person_centers
from common.infra import messages
from common.infra.celery_app import celery_app, queue_lists
from common.infra.messages import TOKEN_MAX, TOKEN_MIN, ReclassifyBatch
from common.repositories import events, face_cards, faces, ids, labels, predictions
from common.repositories import models as models_repo
from common.repositories.faces import Face
from trainer_worker.prediction_writes import Mode, predict_and_write
from trainer_worker.reclassify import (
    pass_progress,
    reclassify_all,
    reclassify_batch,
    reclassify_shard,
)
from trainer_worker.training import run_training

from .conftest import add_face, add_faces, confirm, make_persona, run_full_pass


def _world(db, seed: int, per_persona: int = 6, strangers: int = 4):
    """Three personas with two confirmed faces each, their other faces unlabeled, strangers, a group photo
    (three faces of one image) and a face rejected for persona 0."""
    rng = np.random.default_rng(seed)
    centers = person_centers(3 + strangers, rng)
    people, unlabeled = [], []
    for i in range(3):
        persona = make_persona(db, f"Pass {seed}-{i}")
        face_ids = add_faces(db, faces_of(centers[i], per_persona, rng), f"pass{seed}-p{i}")
        confirm(db, face_ids[:2], persona.persona_id)
        people.append(persona.persona_id)
        unlabeled += face_ids[2:]
    unlabeled += add_faces(db, np.concatenate([faces_of(c, 1, rng) for c in centers[3:]]), f"pass{seed}-x")
    group = [add_face(db, e, f"pass{seed}-group", i) for i, e in enumerate(faces_of(centers[0], 3, rng))]
    unlabeled += group
    rejected = add_face(db, faces_of(centers[0], 1, rng, spread=0.3)[0], f"pass{seed}-rejected")
    labels.put(db, rejected, people[0], labels.REJECT, "tester")
    unlabeled.append(rejected)
    return rng, centers, people, unlabeled, group, rejected


def _predictions_table(db) -> dict:
    return {r.face_id: (r.persona_id, r.score, r.model_version, r.predicted_at)
            for r in db.execute("SELECT * FROM predictions_by_face")}  # fmt: skip


def _queue_rows(db) -> set:
    return {
        (r.persona_id, r.model_version, r.face_id, r.score) for r in db.execute("SELECT * FROM predictions_by_persona")
    }


def _token(image_id: str) -> int:
    return Murmur3Token.from_key(image_id.encode()).value


def test_a_full_pass_over_several_shards_predicts_every_unlabeled_face_once_and_a_redelivery_writes_the_same(
    clean_tables, fresh_retrain_state
):
    db, client = clean_tables, fresh_retrain_state
    _, _, people, unlabeled, group, rejected = _world(db, seed=31)
    version = run_training(db, reason="test").version
    client.delete(*queue_lists("reclassify"))  # the promotion's ReclassifyAll: the pass runs here instead

    sent, results = run_full_pass(db, client, shard_faces=5)
    assert len(sent) >= 5 and all(set(m.kwargs()) == {"version", "pass_id", "shard", "start", "end"} for m in sent)
    assert sent[0].start == TOKEN_MIN and sent[-1].end == TOKEN_MAX
    assert all(a.end == b.start for a, b in itertools.pairwise(sent))  # the ring, no gap, no overlap
    assert {r.status for r in results} == {"done"}
    assert sum(r.predicted for r in results) == len(unlabeled)  # each unlabeled face written exactly once
    table = _predictions_table(db)
    assert set(table) == set(unlabeled) and {v for _, _, v, _ in table.values()} == {version}
    assert len({table[f][0] for f in group} - {None}) == len([f for f in group if table[f][0] is not None])
    assert table[rejected][0] != people[0]
    progress = pass_progress(client, version)
    assert (progress.shards_total, progress.shards_done, progress.planning) == (len(sent), len(sent), False)
    assert progress.faces_predicted == len(unlabeled) and progress.finished_at is not None

    queues = _queue_rows(db)
    assert [reclassify_shard(db, client, m).status for m in sent] == ["skipped"] * len(sent)  # redelivered: done
    assert reclassify_all(db, client, version, sent.append, pass_id=sent[0].pass_id) == 0  # the same fan-out again
    _again, rerun = run_full_pass(db, client, shard_faces=7)  # another pass of the same version (e.g. an erase's)
    assert {r.status for r in rerun} == {"done"} and sum(r.predicted for r in rerun) == 0
    assert sum(r.unchanged for r in rerun) == len(unlabeled)
    assert _predictions_table(db) == table and _queue_rows(db) == queues  # the same rows, not even rewritten


def test_a_shard_of_an_older_version_stops_once_a_newer_one_is_active(clean_tables, fresh_retrain_state):
    db, client = clean_tables, fresh_retrain_state
    _, _, people, unlabeled, _, _ = _world(db, seed=32)
    v1 = run_training(db, reason="test").version
    old_pass: list = []
    reclassify_all(db, client, v1, old_pass.append, shard_faces=4)
    assert reclassify_shard(db, client, old_pass[0]).status == "done"  # v1 started ...
    events.record(db, "model.retrain_requested", "tester", "manual")
    v2 = run_training(db, reason="newer").version
    assert models_repo.active_version(db) == v2 != v1
    client.delete(*queue_lists("reclassify"))
    _, results = run_full_pass(db, client, shard_faces=6)  # ... v2's pass runs (and finishes) meanwhile
    assert {r.status for r in results} == {"done"}
    written = _predictions_table(db)

    late = [reclassify_shard(db, client, m) for m in old_pass[1:]]  # v1's shards delivered only now
    assert {r.status for r in late} == {"cancelled"} and sum(r.predicted for r in late) == 0
    assert _predictions_table(db) == written and {v for _, _, v, _ in written.values()} == {v2}
    assert pass_progress(client, v1) is None  # the newer pass replaced it
    assert pass_progress(client, v2).shards_done == len(results)
    assert all(predictions.queue(db, p, v1) == [] for p in people)  # v1's review queues dropped at v2's end
    assert {p.face_id for pid in [*people, None] for p in predictions.queue(db, pid, v2, limit=100)} == set(unlabeled)


def test_faces_predicted_by_a_replaced_version_are_predicted_again_by_the_newer(clean_tables, fresh_retrain_state):
    """A task that loaded v1 writes after v2 became active (and v2's pass may have written those faces already):
    it reads the active version again after writing and predicts the faces again with v2."""
    db, client = clean_tables, fresh_retrain_state
    rng, centers, people, _, _, _ = _world(db, seed=33)
    run_training(db, reason="test")
    clear_cache()
    v1_classifier = load_active(db, max_age=0)
    events.record(db, "model.retrain_requested", "tester", "manual")
    v2 = run_training(db, reason="newer").version
    assert models_repo.active_version(db) == v2 != v1_classifier.version
    newcomers = [add_face(db, faces_of(centers[i], 1, rng)[0], f"pass33-new{i}") for i in (1, 2)]
    found = face_cards.faces_of_images(db, ["pass33-new1", "pass33-new2"])
    result = predict_and_write(db, client, v1_classifier, found, Mode.NEW, models_repo.queue_version(db))
    assert result.version == v2
    assert [predictions.for_face(db, f).model_version for f in newcomers] == [v2, v2]
    assert {r[1] for r in _queue_rows(db) if r[2] in newcomers} == {v2}  # no v1 queue row left behind
    assert [predictions.for_face(db, f).persona_id for f in newcomers] == people[1:]
    assert reclassify_batch(db, newcomers, client).predicted == 0  # nothing changed since


def test_new_face_predictions_are_served_before_the_shards_of_a_pass(clean_tables, fresh_retrain_state, start_worker):
    """With a pass of many shards queued, a new face's batch sent after them is predicted first (its prediction
    is older than the pass's). The new face's image is the last in token order, so without priorities (first
    in, first out) it would be predicted only by the last shard, or by its batch after every shard."""
    db, client = clean_tables, fresh_retrain_state
    rng, centers, people, _, _, _ = _world(db, seed=34)
    version = run_training(db, reason="test").version
    client.delete(*queue_lists("reclassify"))  # no pass of the promotion: the test sends its own
    crowd = []
    for i, embedding in enumerate(faces_of(centers[0], 1200, rng, spread=1.0)):
        image_id = f"crowd-{i:05d}"
        box = (10, 10, 40, 40)
        crowd.append(Face(ids.face_id(image_id, box), image_id, box, "synthetic", 0.9, embedding, "synthetic-128", ""))
    faces.upsert_many(db, crowd)
    last = max(_token(r.image_id) for r in db.execute("SELECT image_id FROM faces"))
    image_id = next(f"newcomer-{n}" for n in range(1_000_000) if _token(f"newcomer-{n}") > last)
    newcomer = add_face(db, faces_of(centers[1], 1, rng)[0], image_id)

    def send(message):
        return messages.send(message, celery_app.send_task)

    planned = reclassify_all(db, client, version, send, shard_faces=15)
    send(ReclassifyBatch(face_ids=(newcomer,), image_ids=(image_id,)))
    assert planned >= 60
    start_worker("trainer_worker.app", "reclassify", concurrency=1)
    deadline = time.monotonic() + 120
    while (progress := pass_progress(client, version)).finished_at is None:
        assert time.monotonic() < deadline, f"the pass did not finish: {progress}"
        time.sleep(0.2)
    assert progress.shards_done == planned
    when = {r.face_id: (r.predicted_at, r.model_version) for r in db.execute("SELECT * FROM predictions_by_face")}
    assert {when[f.face_id][1] for f in crowd} == {version} and when[newcomer][1] == version
    before = sum(1 for f in crowd if when[f.face_id][0] < when[newcomer][0])
    assert before <= 3 * 15, f"{before} of {len(crowd)} faces of the pass were predicted before the new face"
    assert predictions.for_face(db, newcomer).persona_id == people[1]
    assert models_repo.get_version(db, version).status == registry.ACTIVE


def test_faces_stored_before_their_cards_are_predicted_from_the_face_tables(clean_tables, fresh_retrain_state):
    """A face stored before migration 0006 (no card: its labels only in labels_by_face) or 0012 (no embedding on
    its card) is predicted from the face tables until the backfill has copied them."""
    db, client = clean_tables, fresh_retrain_state
    rng, centers, people, _, _, _ = _world(db, seed=35)
    run_training(db, reason="test")
    client.delete(*queue_lists("reclassify"))
    legacy = {}
    for i, (persona, since) in enumerate([(0, None), (1, None), (2, "now")]):
        face_id, image_id = f"legacy-{i}", f"legacy-image-{i}"
        embedding = faces.encode_embedding(faces_of(centers[persona], 1, rng)[0])
        db.execute("INSERT INTO faces (face_id, image_id, box_left, box_top, box_width, box_height, embedding) "
                   "VALUES (?, ?, 10, 10, 40, 40, ?)", (face_id, image_id, embedding))  # fmt: skip
        db.execute("INSERT INTO faces_by_image (image_id, face_id, box_left, box_top, box_width, box_height, "
                   f"card_since) VALUES (?, ?, 10, 10, 40, 40, {'toTimestamp(now())' if since else 'null'})",
                   (image_id, face_id))  # fmt: skip
        legacy[face_id] = people[persona]
    db.execute("INSERT INTO labels_by_face (face_id, persona_id, verdict) VALUES (?, ?, 'confirm')",
               ("legacy-1", people[1]))  # fmt: skip  # a label from before the cards: on no card

    _, results = run_full_pass(db, client, shard_faces=4)

    assert {r.status for r in results} == {"done"}
    assert predictions.for_face(db, "legacy-0").persona_id == legacy["legacy-0"]
    assert predictions.for_face(db, "legacy-1") is None  # confirmed by a human: never predicted
    assert predictions.for_face(db, "legacy-2").persona_id == legacy["legacy-2"]


def test_a_fan_out_that_died_midway_is_resumed_by_its_redelivery(clean_tables, fresh_retrain_state):
    db, client = clean_tables, fresh_retrain_state
    _, _, _, unlabeled, _, _ = _world(db, seed=36)
    version = run_training(db, reason="test").version
    client.delete(*queue_lists("reclassify"))
    sent: list = []

    def dies_after_three(message):
        if len(sent) == 3:
            raise ConnectionError("worker lost mid fan-out")
        sent.append(message)

    with pytest.raises(ConnectionError):
        reclassify_all(db, client, version, dies_after_three, pass_id="task-1", shard_faces=4)
    assert pass_progress(client, version).planning  # planned 4 (one never sent), not complete
    again: list = []
    reclassify_all(db, client, version, again.append, pass_id="task-1", shard_faces=4)  # the same message again
    assert [m.shard for m in again[:4]] == [0, 1, 2, 3]  # the unfinished ones first, then the rest
    by_index = {m.shard: m for m in [*sent, *again]}
    assert all(by_index[i].end == by_index[i + 1].start for i in range(len(by_index) - 1))
    assert by_index[0].start == TOKEN_MIN and by_index[len(by_index) - 1].end == TOKEN_MAX
    results = [reclassify_shard(db, client, m) for m in [*sent, *again]]
    assert sum(r.predicted for r in results) == len(unlabeled)
    assert sorted(r.status for r in results).count("done") == len(by_index)  # each shard once; its copies skip
    assert pass_progress(client, version).finished_at is not None
    assert reclassify_all(db, client, version, again.append, pass_id="task-1") == 0  # done: nothing to resume
