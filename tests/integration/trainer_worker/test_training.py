"""Training, the gate and reclassification as plain functions on the real Cassandra (no workers)."""

import numpy as np

from common.classifier import clear_cache, registry
from common.classifier.synthetic import faces_of, person_centers
from common.repositories import events, labels, predictions
from common.repositories import models as models_repo
from trainer_worker.events_check import check_events
from trainer_worker.reclassify import reclassify_batch
from trainer_worker.training import run_training

from .conftest import add_face, add_faces, confirm, make_persona, run_full_pass


def _world(db, seed=0, n_personas=3, labeled=4, unlabeled=4, strangers=3):
    rng = np.random.default_rng(seed)
    centers = person_centers(n_personas + strangers, rng)
    people = []
    for i in range(n_personas):
        persona = make_persona(db, f"Person {seed}-{i}")
        face_ids = add_faces(db, faces_of(centers[i], labeled + unlabeled, rng), f"s{seed}p{i}")
        confirm(db, face_ids[:labeled], persona.persona_id)
        people.append((persona, face_ids[:labeled], face_ids[labeled:]))
    stranger_ids = add_faces(db, np.concatenate([faces_of(c, 1, rng) for c in centers[n_personas:]]), f"s{seed}x")
    return rng, centers, people, stranger_ids


def _reclassify_everything(db, redis_client):
    _, results = run_full_pass(db, redis_client)
    assert {r.status for r in results} == {"done"}
    return results


def test_first_training_promotes_and_every_unlabeled_face_gets_a_stamped_prediction(clean_tables, fresh_retrain_state):
    db = clean_tables
    _, _, people, strangers = _world(db)
    outcome = run_training(db, reason="test")
    assert outcome.status == registry.ACTIVE and models_repo.active_version(db) == outcome.version
    mv = models_repo.get_version(db, outcome.version)
    assert mv.metrics["macro_f1"] == 1.0 and mv.label_counts["confirmed"] == 12
    assert mv.artifact_sha256 and mv.artifact_key.startswith("models/") and mv.library_versions["scikit-learn"]
    results = _reclassify_everything(db, fresh_retrain_state)
    assert sum(r.predicted for r in results) == 3 * 4 + 3  # the labeled 12 are not predicted
    for persona, labeled_ids, unlabeled_ids in people:
        for face_id in unlabeled_ids:
            p = predictions.for_face(db, face_id)
            assert p.persona_id == persona.persona_id and p.model_version == outcome.version
        assert all(predictions.for_face(db, f) is None for f in labeled_ids)  # human labels are not predicted
        queue = predictions.queue(db, persona.persona_id, outcome.version)
        assert {p.face_id for p in queue} == set(unlabeled_ids)
    assert all(predictions.for_face(db, f).persona_id is None for f in strangers)
    # unchanged labels: nothing to train ... unless someone asks to "retrain now"
    assert run_training(db).status == "skipped"
    events.record(db, "model.retrain_requested", "alice", "manual")
    assert run_training(db).version == outcome.version + 1


def test_poisoned_labels_make_a_candidate_that_the_gate_rejects(clean_tables):
    db = clean_tables
    _, _, people, _ = _world(db, seed=1, labeled=8, unlabeled=0)
    first = run_training(db)
    (_a, a_faces, _), (b, _, _) = people[0], people[1]
    confirm(db, a_faces[:4], b.persona_id)  # half of A's faces relabeled as B
    second = run_training(db)
    assert second.status == registry.REJECTED and "<" in second.reason
    assert models_repo.active_version(db) == first.version
    assert models_repo.get_version(db, second.version).status == registry.REJECTED
    assert models_repo.history(db)[0].action == "reject"


def test_a_rejected_face_is_not_predicted_as_that_persona_after_retraining(clean_tables, fresh_retrain_state):
    db = clean_tables
    rng, centers, people, _ = _world(db, seed=2)
    # someone who looks like person 0 (well inside the 0.6 threshold): predicted as person 0 at first
    impostor = add_face(db, faces_of(centers[0], 1, rng, spread=0.3)[0], "impostor-image")
    run_training(db)
    _reclassify_everything(db, fresh_retrain_state)
    persona0 = people[0][0].persona_id
    assert predictions.for_face(db, impostor).persona_id == persona0
    confirmed_before = {f: labels.for_face(db, f) for _, ids, _ in people for f in ids}
    labels.put(db, impostor, persona0, labels.REJECT, "tester")
    second = run_training(db)
    assert second.status == registry.ACTIVE
    _reclassify_everything(db, fresh_retrain_state)
    assert predictions.for_face(db, impostor).persona_id != persona0
    assert {f: labels.for_face(db, f) for f in confirmed_before} == confirmed_before  # labels untouched


def test_two_faces_of_one_image_are_never_both_the_same_persona(clean_tables):
    db = clean_tables
    rng, centers, people, _ = _world(db, seed=3)
    twins = faces_of(centers[0], 2, rng)
    a, b = add_face(db, twins[0], "group-photo", 0), add_face(db, twins[1], "group-photo", 1)
    run_training(db)
    clear_cache()
    reclassify_batch(db, [a])  # one face asked for: its sibling is resolved with it
    pa, pb = predictions.for_face(db, a), predictions.for_face(db, b)
    assert pa.persona_id != pb.persona_id or pa.persona_id is None
    assert people[0][0].persona_id in (pa.persona_id, pb.persona_id)
    # a sibling confirmed by a human takes the persona for good
    labels.put(db, b, people[0][0].persona_id, labels.CONFIRM, "tester")
    reclassify_batch(db, [a])
    assert predictions.for_face(db, a).persona_id != people[0][0].persona_id


def test_the_beat_check_requests_a_retrain_when_a_trigger_was_lost(clean_tables, fresh_retrain_state):
    db = clean_tables
    _world(db, seed=4, unlabeled=0, strangers=1)
    run_training(db)
    assert check_events(db, fresh_retrain_state).requested is False  # nothing since the last training
    events.record(db, "label.confirm", "tester", "face")  # ... but its retrain request was lost
    result = check_events(db, fresh_retrain_state)
    assert result.requested and result.pending_events == 1
    assert check_events(db, fresh_retrain_state).requested is False  # one request is on its way
