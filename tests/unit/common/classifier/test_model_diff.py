"""What changed between two classifier versions: the vectors a scoped refresh searches around."""

from __future__ import annotations

import uuid

import numpy as np

from common.classifier.model import OpenSetClassifier, normalize
from common.classifier.model_diff import changed, same_calibration
from common.classifier.synthetic import faces_of, person_centers

RNG = np.random.default_rng(5)
CENTERS = person_centers(4, RNG)
FACES = [faces_of(c, 6, RNG) for c in CENTERS]
PEOPLE = [uuid.UUID(int=i + 1) for i in range(4)]


def _model(confirmed: dict[int, list[int]], rejected: dict[int, list[tuple[int, int]]] | None = None,
           **kwargs) -> OpenSetClassifier:  # fmt: skip
    x, y = [], []
    for p, rows in confirmed.items():
        x += [FACES[p][r] for r in rows]
        y += [PEOPLE[p]] * len(rows)
    rx, ry = [], []
    for p, pairs in (rejected or {}).items():
        rx += [FACES[q][r] for q, r in pairs]
        ry += [PEOPLE[p]] * len(pairs)
    model = OpenSetClassifier(**kwargs)
    return model.fit(np.array(x), y, np.array(rx) if rx else None, ry)


def test_the_same_labels_give_no_change():
    a = _model({0: [0, 1], 1: [0, 1]}, {0: [(1, 2)]})
    b = _model({1: [1, 0], 0: [1, 0]}, {0: [(1, 2)]})  # another order
    assert changed(a, b).empty


def test_a_confirm_adds_one_vector_of_its_persona():
    a = _model({0: [0, 1], 1: [0, 1]})
    b = _model({0: [0, 1, 2], 1: [0, 1]})
    change = changed(a, b)
    assert len(change.vectors) == 1 and change.personas == {PEOPLE[0]}
    assert np.allclose(change.vectors[0], normalize(FACES[0][2])[0], atol=1e-6)


def test_a_reject_an_undo_and_a_merge_are_changes_too():
    base = _model({0: [0, 1], 1: [0, 1], 2: [0, 1]})
    rejected = _model({0: [0, 1], 1: [0, 1], 2: [0, 1]}, {1: [(0, 3)]})
    assert changed(base, rejected).personas == {PEOPLE[1]} and len(changed(base, rejected).vectors) == 1
    assert changed(rejected, base).personas == {PEOPLE[1]}  # the undo: the rejection removed
    x = [FACES[0][0], FACES[0][1], FACES[1][0], FACES[1][1], FACES[2][0], FACES[2][1]]
    merged = OpenSetClassifier().fit(np.array(x), [PEOPLE[0], PEOPLE[0], PEOPLE[1], PEOPLE[1], PEOPLE[1], PEOPLE[1]])
    change = changed(base, merged)  # persona 2 merged into persona 1: its faces moved
    assert change.personas == {PEOPLE[1], PEOPLE[2]} and len(change.vectors) == 4


def test_one_more_label_of_a_capped_persona_changes_at_most_one_kept_prototype():
    many = faces_of(CENTERS[3], 40, RNG)
    a = OpenSetClassifier(max_faces_per_persona=10).fit(many[:30], [PEOPLE[3]] * 30)
    b = OpenSetClassifier(max_faces_per_persona=10).fit(many[:31], [PEOPLE[3]] * 31)
    assert len(a.prototypes) == len(b.prototypes) == 10
    assert len(changed(a, b).vectors) <= 2  # one in, one out (or nothing)


def test_calibration_must_match_for_a_scoped_refresh():
    a = _model({0: [0, 1]})
    b = _model({0: [0, 1, 2]})
    assert same_calibration(a, b)
    b.temperature = a.temperature * 2
    assert not same_calibration(a, b)
    c = _model({0: [0, 1]}, unknown_distance=0.5)
    assert not same_calibration(a, c)
