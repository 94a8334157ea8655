"""The evaluation sample is bounded: at most PP_EVAL_SAMPLE_FACES faces are held out, whatever the personas."""

import json
import uuid

import pytest

from common.classifier.evaluation import evaluate, rejection_violations, sample_plan
from common.classifier.model import OpenSetClassifier
from common.classifier.stored_metrics import confusion_from_rows, confusion_rows, split_for_storage
from common.classifier.synthetic import clustered


def _ids(n: int) -> list[uuid.UUID]:
    return [uuid.UUID(int=i + 1) for i in range(n)]


@pytest.mark.parametrize(
    ("evaluable", "budget", "expected"),
    [
        (6, 2000, (333, 6)),  # few personas: many faces each, all personas
        (500, 2000, (4, 500)),
        (1000, 2000, (2, 1000)),  # the last size where every evaluable persona is evaluated
        (1001, 2000, (2, 1000)),  # above it: 2 faces each, a sample of B // 2 personas
        (10_000, 2000, (2, 1000)),
        (10_000, 300, (2, 150)),
        (0, 2000, (0, 0)),
    ],
)
def test_sample_plan_follows_the_documented_rule(evaluable, budget, expected):
    assert sample_plan(evaluable, budget) == expected


def test_the_plan_never_holds_out_more_than_the_sample_size():
    for budget in (2, 3, 100, 2000, 2001):
        for evaluable in range(1, 3000, 7):
            per_persona, personas = sample_plan(evaluable, budget)
            assert per_persona >= 2 and 1 <= personas <= evaluable and per_persona * personas <= max(2, budget)


def test_many_personas_are_evaluated_on_a_seeded_sample_of_bounded_size():
    _, x, y = clustered(400, 4, seed=5)
    model = OpenSetClassifier().fit(x, [_ids(400)[i] for i in y])
    metrics = evaluate(model, sample_faces=100)
    assert metrics["evaluated_faces"] == 100  # 50 personas x 2 faces
    assert metrics["sample"] == {"max_faces": 100, "faces_per_persona": 2, "evaluable_personas": 400,
                                 "evaluated_personas": 50}  # fmt: skip
    scored = {p: m for p, m in metrics["per_persona"].items() if m.get("sampled", True)}
    assert len(scored) == 50 and len(metrics["per_persona"]) == 400  # the others: listed, not scored
    assert all(m["f1"] is None and m["evaluable"] for m in metrics["per_persona"].values() if m.get("sampled") is False)
    assert sum(n for _, _, n in metrics["confusion"]["cells"]) == 100
    assert metrics["macro_f1"] >= 0.9
    again = evaluate(OpenSetClassifier().fit(x, [_ids(400)[i] for i in y]), sample_faces=100)
    assert set(scored) == {p for p, m in again["per_persona"].items() if m.get("sampled", True)}  # seeded


def test_below_the_cap_every_evaluable_persona_is_evaluated():
    _, x, y = clustered(30, 5, seed=6)
    metrics = evaluate(OpenSetClassifier().fit(x, [_ids(30)[i] for i in y]), sample_faces=2000)
    assert metrics["evaluated_faces"] == 150 and metrics["sample"]["evaluated_personas"] == 30
    assert all(m["sampled"] for m in metrics["per_persona"].values())


def test_stored_version_metrics_stay_small_and_the_per_persona_part_round_trips():
    n = 3000
    _, x, y = clustered(n, 3, seed=7)
    metrics = evaluate(OpenSetClassifier().fit(x, [_ids(n)[i] for i in y]))
    counts = {"confirmed": len(x), "rejected": 0, "personas": n, "skipped": 0,
              "per_persona": {str(p): {"confirmed": 3, "rejected": 0} for p in _ids(n)}}  # fmt: skip
    summary, totals, per_persona = split_for_storage(metrics, counts)
    assert len(json.dumps(summary)) + len(json.dumps(totals)) < 8_000  # far below the 64 KB row budget
    assert "per_persona" not in summary and "confusion" not in summary and "per_persona" not in totals
    assert summary["macro_f1"] == metrics["macro_f1"]  # what the quality gate compares
    assert len(per_persona) == n and max(len(json.dumps(v)) for v in per_persona.values()) < 1_000
    rows = {p: v["confused"] for p, v in per_persona.items() if "confused" in v}
    assert confusion_from_rows(rows) == metrics["confusion"] == confusion_from_rows(confusion_rows(metrics))


def test_a_rejected_face_that_is_also_confirmed_for_the_persona_is_still_counted_as_a_violation():
    _, x, y = clustered(3, 4, seed=8)
    pids = _ids(3)
    model = OpenSetClassifier().fit(x, [pids[i] for i in y], x[:1], [pids[y[0]]])  # confirmed and rejected
    assert rejection_violations(model) == 1
    clean = OpenSetClassifier().fit(x[1:], [pids[i] for i in y[1:]], x[:1], [pids[y[0]]])
    assert rejection_violations(clean) == 0
