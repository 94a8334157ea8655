"""Through real Celery workers, Redis and Cassandra: labels -> one retrain -> gate -> reclassification."""

import time

import numpy as np

from common.classifier import registry
from common.classifier.synthetic import faces_of, person_centers
from common.labeling.retrain_trigger import request_retrain
from common.repositories import events, labels, predictions, refreshes
from common.repositories import models as models_repo

from .conftest import add_face, add_faces, confirm, make_persona, wait_for


def _label(db, face_id, persona_id, verdict):
    labels.put(db, face_id, persona_id, verdict, "tester")
    if verdict == labels.CONFIRM:
        predictions.delete_for_face(db, face_id)
    events.record(db, f"label.{verdict}", "tester", face_id, {"persona_id": str(persona_id)})
    request_retrain(f"label.{verdict} {face_id}")


def _all_stamped(db, face_ids, version):
    preds = {f: predictions.for_face(db, f) for f in face_ids}
    return preds if all(p is not None and p.model_version == version for p in preds.values()) else None


def test_labels_retrain_promote_reclassify_reject_and_rollback(clean_tables, fresh_retrain_state, start_worker):
    db = clean_tables
    start_worker("trainer_worker.app", "retrain")
    start_worker("trainer_worker.app", "reclassify")
    rng = np.random.default_rng(21)
    centers = person_centers(6, rng)
    people = []
    for i in range(4):
        persona = make_persona(db, f"Worker Person {i}")
        ids = add_faces(db, faces_of(centers[i], 8, rng), f"w{i}")
        people.append((persona.persona_id, ids[:3], ids[3:]))
    strangers = add_faces(db, np.concatenate([faces_of(c, 2, rng) for c in centers[4:]]), "stranger")
    twins = faces_of(centers[0], 2, rng)
    group = [add_face(db, twins[0], "group", 0), add_face(db, twins[1], "group", 1)]
    for persona_id, labeled, _ in people:
        for face_id in labeled:
            _label(db, face_id, persona_id, labels.CONFIRM)

    v1 = wait_for(lambda: models_repo.active_version(db), what="a promoted model")
    assert len(models_repo.list_versions(db)) == 1  # 12 labels in a burst -> one training
    unlabeled = [f for _, _, u in people for f in u] + strangers + group
    first = wait_for(lambda: _all_stamped(db, unlabeled, v1), what=f"predictions stamped v{v1}")
    for persona_id, labeled, rest in people:
        assert all(first[f].persona_id == persona_id for f in rest)
        assert all(predictions.for_face(db, f) is None for f in labeled)
    assert all(first[f].persona_id is None for f in strangers)
    assert first[group[0]].persona_id != first[group[1]].persona_id

    # reject a correct prediction: the face is never that persona again, no confirmed label changes
    persona1, _labeled1, rest1 = people[1]
    victim = rest1[0]
    confirmed = {f: labels.for_face(db, f) for _, ids, _ in people for f in ids}
    _label(db, victim, persona1, labels.REJECT)
    v2 = wait_for(lambda: (v := models_repo.active_version(db)) != v1 and v, what="the retrained model")
    # a scoped refresh: the faces near the rejected one are predicted again by v2, the others keep v1's
    wait_for(lambda: (r := refreshes.get(db, v2)) is not None and r.finished, what=f"v{v2}'s refresh")
    assert refreshes.get(db, v2).kind == "scoped"
    second = {f: predictions.for_face(db, f) for f in unlabeled}
    assert {second[f].model_version for f in rest1} == {v2}
    assert {second[f].model_version for f in people[2][2]} == {v1}  # another persona's faces, far from it
    assert second[victim].persona_id != persona1
    assert {f: labels.for_face(db, f) for f in confirmed} == confirmed

    # rollback: v1 serves again and restores its predictions (the rejection is still honoured)
    assert registry.rollback(db, "tester") == v1
    restored = wait_for(lambda: _all_stamped(db, unlabeled, v1), what="predictions stamped v1 again")
    assert {f: p.persona_id for f, p in restored.items() if f != victim} == {
        f: p.persona_id for f, p in first.items() if f != victim
    }
    assert restored[victim].persona_id != persona1
    # the superseded version's review queue is dropped once reclassification is done
    wait_for(lambda: predictions.queue(db, persona1, v2) == [], what="v2 queues dropped")


def test_a_burst_of_requests_trains_once_and_a_worse_candidate_is_rejected(clean_tables, fresh_retrain_state,
                                                                            start_worker):  # fmt: skip
    db = clean_tables
    start_worker("trainer_worker.app", "retrain")
    rng = np.random.default_rng(22)
    centers = person_centers(3, rng)
    people = []
    for i, center in enumerate(centers):
        persona = make_persona(db, f"Burst Person {i}")
        ids = add_faces(db, faces_of(center, 10, rng), f"b{i}")
        confirm(db, ids, persona.persona_id)
        people.append((persona.persona_id, ids))
    for n in range(30):  # 30 requests, each well inside the previous one's quiet period
        request_retrain(f"burst {n}")
        time.sleep(2.0 / 30)
    wait_for(lambda: models_repo.active_version(db), what="the burst's model")
    time.sleep(4.0)  # longer than the quiet period: a second training would have started by now
    versions = models_repo.list_versions(db)
    assert len(versions) == 1 and versions[0].status == registry.ACTIVE
    v1 = versions[0].version

    # poison: half of persona 0's faces confirmed as persona 1
    confirm(db, people[0][1][:5], people[1][0])
    request_retrain("poisoned labels")
    rejected = wait_for(
        lambda: len(vs := models_repo.list_versions(db)) == 2 and vs[0].status != registry.CANDIDATE and vs[0],
        what="the poisoned candidate's gate decision",
    )
    assert rejected.status == registry.REJECTED and "<" in rejected.reason
    assert models_repo.active_version(db) == v1
