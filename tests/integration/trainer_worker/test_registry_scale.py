"""Training that fits: per-persona figures in their own table, a small version row, pruning of old versions."""

import argparse
import json

import numpy as np

from common.classifier import registry
from common.classifier.synthetic import faces_of, person_centers
from common.infra.settings import get_settings
from common.repositories import labels, personas
from common.repositories import models as models_repo
from common.storage import get_blob_store
from trainer_worker.cli import cmd_models
from trainer_worker.training import run_training

from .conftest import add_faces, confirm, make_persona


def _people(db, n_personas=4, faces=5, seed=11):
    rng = np.random.default_rng(seed)
    centers = person_centers(n_personas, rng)
    out = []
    for i in range(n_personas):
        persona = make_persona(db, f"Scale {seed}-{i}")
        face_ids = add_faces(db, faces_of(centers[i], faces, rng), f"scale{seed}p{i}")
        confirm(db, face_ids, persona.persona_id)
        out.append((persona, face_ids))
    return rng, centers, out


def test_per_persona_metrics_and_label_counts_live_in_their_own_rows(clean_tables):
    db = clean_tables
    _, _, people = _people(db)
    loner = make_persona(db, "Only one face")
    rng = np.random.default_rng(3)
    confirm(db, add_faces(db, faces_of(person_centers(1, rng)[0], 1, rng), "loner"), loner.persona_id)
    (a, a_faces), (b, _) = people[0], people[1]
    labels.put(db, a_faces[0], b.persona_id, labels.REJECT, "tester")
    outcome = run_training(db)
    mv = models_repo.get_version(db, outcome.version)
    assert "per_persona" not in mv.metrics and "confusion" not in mv.metrics and "per_persona" not in mv.label_counts
    assert mv.metrics["macro_f1"] == 1.0 and mv.label_counts["confirmed"] == 21 and mv.label_counts["rejected"] == 1
    assert models_repo.row_sizes(db, mv.version)["total"] < 64 * 1024
    rows = {r.persona_id: r for r in models_repo.persona_metrics(db, mv.version)}
    assert set(rows) == {str(p.persona_id) for p, _ in people} | {str(loner.persona_id)}
    assert rows[str(a.persona_id)].confirmed == 5 and rows[str(b.persona_id)].rejected == 1
    assert rows[str(loner.persona_id)].metrics["evaluable"] is False
    metrics, counts = registry.detailed_metrics(db, mv)  # what the web shows
    assert metrics["per_persona"][str(a.persona_id)]["f1"] == 1.0
    assert sum(n for _, _, n in metrics["confusion"]["cells"]) == metrics["evaluated_faces"]
    assert counts["per_persona"][str(b.persona_id)] == {"confirmed": 5, "rejected": 1}


def test_a_version_stored_before_the_per_persona_table_shows_its_own_json(clean_tables):
    db = clean_tables
    old = {"macro_f1": 0.9, "per_persona": {"p": {"f1": 0.9}}, "confusion": {"labels": ["p", "unknown"],
                                                                              "cells": [[0, 0, 2]]}}  # fmt: skip
    counts = {"per_persona": {"p": {"confirmed": 2}}}
    models_repo.insert_version(db, models_repo.ModelVersion(1, "retired", metrics=old, label_counts=counts))
    metrics, counts = registry.detailed_metrics(db, models_repo.get_version(db, 1))
    assert metrics == old and counts["per_persona"] == {"p": {"confirmed": 2}}


def test_old_versions_are_pruned_keeping_the_newest_the_active_the_previous_and_pinned_ones(clean_tables):
    db = clean_tables
    rng, centers, people = _people(db, seed=12)
    settings = get_settings().model_copy(update={"model_retention_versions": 2})
    versions, keys = [], []
    for round_ in range(6):
        if round_:  # one more labeled face each time: new data, a new artifact
            persona, _ = people[round_ % len(people)]
            confirm(db, add_faces(db, faces_of(centers[round_ % len(people)], 1, rng), f"more{round_}"),
                    persona.persona_id)  # fmt: skip
        outcome = run_training(db, settings=settings)
        assert outcome.status == registry.ACTIVE
        versions.append(outcome.version)
        keys.append(models_repo.get_version(db, outcome.version).artifact_key)
        if round_ == 0:
            registry.pin(db, outcome.version)
    store = get_blob_store()
    kept = [v.version for v in models_repo.list_versions(db)]
    assert kept == [versions[5], versions[4], versions[0]]  # newest two (active, previous) and the pinned first
    for pruned in versions[1:4]:
        assert models_repo.get_version(db, pruned) is None and models_repo.persona_metrics(db, pruned) == []
    assert {h.version for h in models_repo.history(db, limit=500)} == set(kept)
    assert len(set(keys)) == 6 and all(store.exists(keys[i]) for i in (0, 4, 5))
    assert not any(store.exists(keys[i]) for i in (1, 2, 3))  # the pruned versions' artifacts are deleted
    # rollback still goes back to the previous version
    assert registry.rollback(db, "alice", reclassify=False) == versions[4]
    # labels are untouched by training and pruning
    assert all(len(labels.for_persona(db, p.persona_id)) >= 5 for p, _ in people)
    assert len(personas.list_all(db)) == len(people)
    assert json.dumps(models_repo.get_version(db, versions[4]).metrics)  # the kept rows are readable


def test_an_operator_pins_and_unpins_a_version_from_the_command_line(clean_tables, capsys):
    db = clean_tables
    _people(db, n_personas=2, faces=3, seed=5)
    version = run_training(db, force=True).version

    def models(action: str, v: int | None) -> int:
        return cmd_models(argparse.Namespace(action=action, version=v, reason="", limit=50, json=False))

    assert models("pin", version) == 0
    assert models_repo.get_version(db, version).pinned
    assert models("unpin", version) == 0
    assert not models_repo.get_version(db, version).pinned
    assert models("pin", None) == 2  # a version is needed
