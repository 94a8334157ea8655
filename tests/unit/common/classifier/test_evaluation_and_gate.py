"""Held-out metrics and the quality gate: a model trained on poisoned labels is refused."""

import uuid

import numpy as np

from common.classifier.evaluation import evaluate
from common.classifier.gate import decide
from common.classifier.model import OpenSetClassifier
from common.classifier.synthetic import clustered

P = [uuid.UUID(int=i + 1) for i in range(50)]


def _model(x, y):
    return OpenSetClassifier().fit(x, [P[i] for i in y])


def test_metrics_report_accuracy_f1_per_persona_unknown_rejection_and_calibration():
    _, x, y = clustered(6, 8, seed=1)
    metrics = evaluate(_model(x, y))
    assert metrics["accuracy"] >= 0.95 and metrics["macro_f1"] >= 0.95
    assert set(metrics["per_persona"]) == {str(p) for p in P[:6]}
    assert all({"precision", "recall", "f1", "support"} <= set(v) for v in metrics["per_persona"].values())
    assert metrics["unknown_rejection_rate"] >= 0.9  # a left-out person comes out unknown
    assert 0.0 <= metrics["calibration"]["brier"] <= 0.1 and metrics["calibration"]["ece"] is not None
    labels, cells = metrics["confusion"]["labels"], metrics["confusion"]["cells"]
    assert labels[-1] == "unknown" and len(labels) == 7
    assert all(0 <= i < 7 and 0 <= j < 7 and n > 0 for i, j, n in cells)  # nonzero cells only
    assert sum(n for _, _, n in cells) == metrics["evaluated_faces"]
    assert sum(n for i, j, n in cells if i == j) >= 0.95 * metrics["evaluated_faces"]  # mostly the diagonal
    assert metrics["rejection_violations"] == 0


def test_a_single_face_persona_is_reported_but_not_scored():
    _, x, _y = clustered(2, 2, seed=2)
    model = OpenSetClassifier().fit(x[:3], [P[0], P[0], P[1]])
    metrics = evaluate(model)
    assert metrics["per_persona"][str(P[1])]["evaluable"] is False
    assert metrics["per_persona"][str(P[0])]["support"] == 2
    only_one = evaluate(OpenSetClassifier().fit(x[:1], [P[0]]))
    assert only_one["macro_f1"] is None and only_one["unknown_rejection_rate"] is None


def test_poisoned_labels_lower_macro_f1_and_the_gate_refuses_the_candidate():
    _, x, y = clustered(4, 10, seed=3)
    good = evaluate(_model(x, y))
    poisoned_y = y.copy()
    poisoned_y[np.flatnonzero(y == 0)[:5]] = 1  # half of persona 0's faces labeled as persona 1
    bad = evaluate(_model(x, poisoned_y))
    assert bad["macro_f1"] < good["macro_f1"] - 0.1
    decision = decide(bad, good, tolerance=0.02)
    assert not decision.promote and "<" in decision.reason


def test_gate_decisions():
    assert decide({"macro_f1": 0.2}, None, 0.02).promote  # the first model is always promoted
    assert decide({"macro_f1": 0.95}, {"macro_f1": 0.96}, 0.02).promote  # within tolerance
    assert not decide({"macro_f1": 0.90}, {"macro_f1": 0.96}, 0.02).promote
    assert decide({"macro_f1": None}, {"macro_f1": 0.9}, 0.02).promote  # nothing to compare yet
    assert decide({"macro_f1": 0.5}, {"macro_f1": None}, 0.02).promote


def test_metrics_of_many_personas_stay_small_enough_for_one_database_row():
    """model_versions keeps the metrics in its row; Cosmos DB refuses rows over 2 MB. A dense confusion
    matrix of 600 personas alone would be about a megabyte of JSON, and it grows with their square."""
    import json

    many = [uuid.UUID(int=i + 1) for i in range(600)]
    _, x, y = clustered(600, 3, seed=4)
    metrics = evaluate(OpenSetClassifier().fit(x, [many[i] for i in y]))
    assert len(metrics["confusion"]["labels"]) == 601
    assert len(json.dumps(metrics)) < 200_000
