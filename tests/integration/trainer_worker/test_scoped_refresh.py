"""Scoped refreshes (issue 27): after each promotion only the faces the label can change are re-predicted,
and an audit pass afterwards finds nothing to change: every decision equal, every score within
``SCORE_TOLERANCE``."""

from __future__ import annotations

import argparse
import base64
import json

import numpy as np
import pytest

from common.classifier import clear_cache
from common.classifier.synthetic import faces_of, person_centers
from common.infra import messages
from common.infra.celery_app import celery_app
from common.labeling import actions
from common.repositories import face_cards, face_cells, labels, predictions, refreshes
from common.repositories import models as models_repo
from trainer_worker.prediction_writes import forget_codebook
from trainer_worker.scoped_refresh import refresh_predictions
from trainer_worker.training import run_training

from .conftest import add_face, make_persona, run_full_pass, wait_for

pytestmark = pytest.mark.integration

SCORE_TOLERANCE = 0.02  # a face outside the radius: its score moves by a far persona's share of its softmax


@pytest.fixture
def world(clean_tables, fresh_retrain_state, monkeypatch):
    """12 personas (3 confirmed faces each, 12 unlabeled ones in images of their own), 6 group photos of three
    people, 30 strangers; v1 trained and its full pass run (which builds the index of all faces)."""
    monkeypatch.setenv("PP_CALIBRATION_MAX_AGE_HOURS", "24")
    forget_codebook()
    db, client = clean_tables, fresh_retrain_state
    rng = np.random.default_rng(27)
    centers = person_centers(12 + 30, rng)
    people = [make_persona(db, f"Scoped {i}").persona_id for i in range(12)]
    unlabeled: dict[int, list[str]] = {}
    for i, persona in enumerate(people):
        vectors = faces_of(centers[i], 15, rng)
        for n, v in enumerate(vectors[:3]):
            actions.confirm(db, add_face(db, v, f"scoped-{i}-seed-{n}"), persona, "tester")
        unlabeled[i] = [add_face(db, v, f"scoped-{i}-{n}") for n, v in enumerate(vectors[3:])]
    groups = []
    for g in range(6):
        members = rng.choice(12, 3, replace=False)
        groups.append([add_face(db, faces_of(centers[m], 1, rng)[0], f"scoped-group-{g}", k)
                       for k, m in enumerate(members)])  # fmt: skip
    strangers = [add_face(db, faces_of(centers[12 + s], 1, rng)[0], f"scoped-stranger-{s}") for s in range(30)]
    assert run_training(db, reason="v1").status == "active"
    run_full_pass(db, client, shard_faces=40)
    assert face_cells.current(db).complete
    return db, client, people, unlabeled, groups, strangers


def _promote_and_refresh(db, client) -> list:
    """Train; when a new version became active, run its refresh here (as the reclassify worker would)."""
    before = models_repo.active_version(db)
    run_training(db, reason="labels")
    after = models_repo.active_version(db)
    if after == before:
        return []
    clear_cache()
    sent: list = []
    result = refresh_predictions(db, client, after, before, sent.append)
    assert result.kind == "scoped", result.reason
    assert sent == []  # no full pass
    return [result]


def _decisions(db) -> dict[str, tuple]:
    rows = db.execute("SELECT face_id, persona_id, score, model_version FROM predictions_by_face")
    return {r.face_id: (r.persona_id, r.score, r.model_version) for r in rows}


def test_labels_through_real_workers_then_an_audit_pass_change_no_decision(world, start_worker):
    """Confirms, a reject, an undo, a merge, a delete and a new persona, each retrained and refreshed by real
    workers (a scoped refresh each); then an audit pass: every decision stays, every score within tolerance."""
    db, _client, people, unlabeled, groups, strangers = world
    start_worker("trainer_worker.app", "retrain")
    start_worker("trainer_worker.app", "reclassify")
    total = len(_decisions(db))
    versions = []

    seen = [models_repo.latest_version(db).version]

    def refreshed() -> int:
        """Wait for the training this label causes; if the gate promoted it, for its refresh to finish."""
        latest = wait_for(lambda: (mv := models_repo.latest_version(db)).version > seen[-1]
                          and mv.status != "candidate" and mv, what="a gated version")  # fmt: skip
        seen.append(latest.version)
        if latest.status == "active":
            wait_for(lambda: (r := refreshes.get(db, latest.version)) is not None and r.finished,
                     what=f"v{latest.version}'s refresh")  # fmt: skip
            versions.append(latest.version)
        return models_repo.active_version(db)

    actions.confirm(db, unlabeled[0][0], people[0], "tester")
    refreshed()
    wrong = next(f for f in unlabeled[1] if predictions.for_face(db, f).persona_id == people[1])
    actions.reject(db, wrong, people[1], "tester")
    refreshed()
    event = actions.confirm(db, groups[0][0], people[2], "tester")
    refreshed()
    actions.undo(db, event.event_id, "tester")
    refreshed()
    actions.merge_personas(db, people[3], people[4], "tester")
    refreshed()
    actions.delete_persona(db, people[5], "tester")
    refreshed()
    newcomer = actions.create_persona(db, "Newcomer", "tester").persona_id
    actions.confirm(db, strangers[0], newcomer, "tester")
    active = refreshed()

    done = [refreshes.get(db, v) for v in versions]
    assert len(done) >= 5 and {r.kind for r in done} == {"scoped"}
    assert all(r.faces < total / 3 for r in done)  # each label re-predicted a part of the corpus
    assert refreshes.pending_personas(db, active) == frozenset()
    assert all(predictions.for_face(db, f).persona_id != people[5] for f in unlabeled[5])  # the deleted persona
    assert predictions.for_face(db, wrong).persona_id != people[1]  # the rejection

    before = _decisions(db)
    messages.send(messages.ReclassifyAll(version=active, kind="audit"), celery_app.send_task)
    wait_for(lambda: (r := refreshes.get(db, active)).kind == "audit" and r.finished, what="the audit pass")
    after = _decisions(db)
    assert refreshes.get(db, active).decisions_changed == 0
    assert set(after) == set(before)
    assert all(after[f][0] == before[f][0] for f in after)  # the same persona (or unknown) for every face
    worst = max(abs(after[f][1] - before[f][1]) for f in after)
    assert worst <= SCORE_TOLERANCE, worst


def test_faces_outside_the_radius_keep_the_version_that_predicted_them(world):
    db, client, people, unlabeled, _groups, strangers = world
    v1 = models_repo.active_version(db)
    actions.confirm(db, unlabeled[0][0], people[0], "tester")
    [result] = _promote_and_refresh(db, client)
    v2 = models_repo.active_version(db)
    assert result.faces_in_radius >= len(unlabeled[0]) - 1  # persona 0's cluster
    versions = {f: p[2] for f, p in _decisions(db).items()}
    assert {versions[f] for f in unlabeled[0][1:]} == {v2}
    assert {versions[f] for f in unlabeled[7]} == {v1}  # another persona's faces: untouched
    assert {versions[f] for f in strangers} == {v1}
    queue = predictions.queue(db, people[0], models_repo.queue_version(db), limit=100)
    assert {p.face_id for p in queue} >= set(unlabeled[0][1:])  # the review queue shows the refreshed faces


def test_a_change_of_thresholds_runs_a_full_pass(world, monkeypatch):
    """Another unknown distance moves every decision near it: scoped reasoning cannot bound that."""
    db, client, _people, _unlabeled, _groups, _strangers = world
    monkeypatch.setenv("PP_UNKNOWN_DISTANCE", "0.5")
    from common.infra.settings import get_settings

    get_settings.cache_clear()
    try:
        before = models_repo.active_version(db)
        assert run_training(db, reason="new thresholds").status == "active"
        after = models_repo.active_version(db)
        sent: list = []
        result = refresh_predictions(db, client, after, before, sent.append)
        assert result.kind == "full" and "calibration" in result.reason
        assert sent and all(s.version == after for s in sent)  # the shards of a full pass
    finally:
        get_settings.cache_clear()


def test_a_privacy_erase_removes_the_faces_embeddings_from_the_index(world):
    db, _client, people, _unlabeled, _groups, _strangers = world
    book = face_cells.current(db)
    confirmed = [lab.face_id for lab in labels.for_persona(db, people[6])]
    images = [face_cards.image_of(db, f) for f in confirmed]
    cells = {cell for image in images for _, cell, _ in face_cards.cells_of_image(db, image)}
    assert set(confirmed) <= {m.face_id for m in face_cells.members(db, book.codebook, cells)}
    actions.delete_persona(db, people[6], "tester", erase_faces=True)
    assert not set(confirmed) & {m.face_id for m in face_cells.members(db, book.codebook, cells)}


def test_a_new_version_keeps_the_active_calibration_until_it_is_old(world, monkeypatch):
    db, _client, people, unlabeled, _groups, _strangers = world
    from common.infra.settings import get_settings

    v1 = models_repo.get_version(db, models_repo.active_version(db))
    assert v1.metrics["calibration"]["refitted"]
    actions.confirm(db, unlabeled[0][0], people[0], "tester")
    v2 = models_repo.get_version(db, run_training(db, reason="labels").version)
    pinned = {k: v for k, v in v1.metrics["calibration"].items() if k != "refitted"}
    assert {k: v for k, v in v2.metrics["calibration"].items() if k != "refitted"} == pinned
    assert not v2.metrics["calibration"]["refitted"]
    monkeypatch.setenv("PP_CALIBRATION_MAX_AGE_HOURS", "0")
    get_settings.cache_clear()
    try:
        v3 = models_repo.get_version(db, run_training(db, reason="refit", force=True).version)
        assert v3.metrics["calibration"]["refitted"] and v3.metrics["calibration"]["since"] != pinned["since"]
    finally:
        get_settings.cache_clear()


def test_an_operator_asks_for_an_audit_pass_from_the_command_line(world, capsys):
    db, client, *_ = world
    from common.infra.celery_app import queue_lists
    from trainer_worker.cli import cmd_reclassify

    client.delete(*queue_lists("reclassify"))
    assert cmd_reclassify(argparse.Namespace(audit=True)) == 0
    assert "audit pass of v" in capsys.readouterr().out
    [raw] = [m for q in queue_lists("reclassify") for m in client.lrange(q, 0, -1)]
    sent = json.loads(raw)
    assert sent["headers"]["task"] == "trainer_worker.reclassify_all"
    assert json.loads(base64.b64decode(sent["body"]))[1] == {"version": models_repo.active_version(db),
                                                            "previous": None, "kind": "audit"}  # fmt: skip


def test_pages_and_api_say_which_personas_predictions_are_being_refreshed(world):
    db, _client, people, *_ = world
    from visualization_web import queries

    active = models_repo.active_version(db)
    assert queries.predictions_current(db, people[0], active)
    refreshes.started(db, active, active - 1, "scoped", {people[0]})  # the active version's refresh, under way
    assert not queries.predictions_current(db, people[0], active)
    assert queries.predictions_current(db, people[1], active)
    summaries = {s["persona"].persona_id: s["predictions_current"] for s in queries.persona_summaries(db)}
    assert summaries[people[0]] is False and summaries[people[1]] is True
    refreshes.finished(db, active, 0)
    assert queries.predictions_current(db, people[0], active)
