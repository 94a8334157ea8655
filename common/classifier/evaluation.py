"""Held-out evaluation of an OpenSetClassifier on its own confirmed faces.

The classifier is nearest-neighbour based, so leave-one-out is exact and cheap:
each evaluated face is predicted with itself removed from the prototypes.
Personas with a single confirmed face cannot be held out (their face would
leave them with none) and are reported with ``evaluable: false``; macro-F1 is
over evaluable personas. Unknown rejection is estimated by leaving a whole
persona out: its faces should then come out as unknown. The softmax
temperature is fitted (grid search on log-loss) on the same held-out predictions.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from common.classifier.model import OpenSetClassifier, normalize

UNKNOWN = "unknown"
TEMPERATURES = (0.04, 0.05, 0.07, 0.1, 0.14, 0.2, 0.3)
MAX_EVAL_FACES = 2000
MAX_LEFT_OUT_PERSONAS = 30
FACES_PER_LEFT_OUT_PERSONA = 10


def _held_out_rows(model: OpenSetClassifier, seed: int = 0) -> np.ndarray:
    """Prototype indices to hold out one at a time: personas with >= 2 faces, stratified, capped."""
    rng = np.random.default_rng(seed)
    counts = np.bincount(model.prototype_labels, minlength=model.n_personas)
    evaluable = np.flatnonzero(counts >= 2)
    if len(evaluable) == 0:
        return np.zeros(0, np.int64)
    per_persona = max(2, MAX_EVAL_FACES // len(evaluable))
    rows = []
    for label in evaluable:
        members = np.flatnonzero(model.prototype_labels == label)
        if len(members) > per_persona:
            members = np.sort(rng.choice(members, per_persona, replace=False))
        rows.append(members)
    return np.concatenate(rows)


def _left_out_persona_rows(model: OpenSetClassifier, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(prototype rows, their persona) for leave-one-persona-out (needs >= 2 personas)."""
    if model.n_personas < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rng = np.random.default_rng(seed)
    personas = np.arange(model.n_personas)
    if len(personas) > MAX_LEFT_OUT_PERSONAS:
        personas = np.sort(rng.choice(personas, MAX_LEFT_OUT_PERSONAS, replace=False))
    rows = []
    for label in personas:
        members = np.flatnonzero(model.prototype_labels == label)[:FACES_PER_LEFT_OUT_PERSONA]
        rows.append(members)
    rows_arr = np.concatenate(rows)
    return rows_arr, model.prototype_labels[rows_arr]


def _held_out_scores(model: OpenSetClassifier) -> dict:
    x = model.prototypes
    loo = _held_out_rows(model)
    dist_loo = model.persona_distances(x[loo], drop_prototype=loo)
    ok_loo = model.allowed(dist_loo, model.rejection_distances(x[loo]))
    lpo, lpo_labels = _left_out_persona_rows(model)
    dist_lpo = model.persona_distances(x[lpo])
    dist_lpo[np.arange(len(lpo)), lpo_labels] = np.inf  # the whole persona is left out
    ok_lpo = model.allowed(dist_lpo, model.rejection_distances(x[lpo]))
    return {"loo": loo, "dist_loo": dist_loo, "ok_loo": ok_loo, "lpo": lpo, "dist_lpo": dist_lpo, "ok_lpo": ok_lpo}


def fit_temperature(model: OpenSetClassifier, held: dict) -> float:
    """The temperature minimising log-loss on held-out faces (true class: persona, or unknown when left out)."""
    truth = np.concatenate([model.prototype_labels[held["loo"]], np.full(len(held["lpo"]), model.n_personas)])
    if len(truth) == 0:
        return model.temperature
    dist = np.concatenate([held["dist_loo"], held["dist_lpo"]])
    ok = np.concatenate([held["ok_loo"], held["ok_lpo"]])
    best, best_loss = model.temperature, np.inf
    for t in TEMPERATURES:
        prob = model.probabilities(dist, ok, t)
        loss = -np.mean(np.log(prob[np.arange(len(truth)), truth] + 1e-12))
        if loss < best_loss - 1e-9:
            best, best_loss = t, loss
    return float(best)


def _calibration(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> dict:
    if len(confidence) == 0:
        return {"brier": None, "ece": None, "n": 0}
    brier = float(np.mean((confidence - correct) ** 2))
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            ece += mask.mean() * abs(confidence[mask].mean() - correct[mask].mean())
    return {"brier": round(brier, 6), "ece": round(float(ece), 6), "n": len(confidence)}


def _names(model: OpenSetClassifier, choices: list) -> list[str]:
    return [str(r.persona_id) if r.persona_id is not None else UNKNOWN for r in choices]


def evaluate(model: OpenSetClassifier, fit_calibration: bool = True) -> dict:
    """Metrics dict (see docs/trainer-worker.md); sets ``model.temperature`` when ``fit_calibration``."""
    held = _held_out_scores(model)
    if fit_calibration:
        model.temperature = fit_temperature(model, held)
    counts = np.bincount(model.prototype_labels, minlength=model.n_personas)
    loo_pred = model.decide(held["dist_loo"], held["ok_loo"])
    truth = [model.persona_ids[i] for i in model.prototype_labels[held["loo"]]]
    predicted = _names(model, loo_pred)
    evaluable = [p for p, c in zip(model.persona_ids, counts, strict=True) if c >= 2]
    metrics: dict = {
        "evaluated_faces": len(truth),
        "method": "leave-one-out (nearest-neighbour model)",
        "temperature": model.temperature,
        "thresholds": {"unknown_distance": model.unknown_distance, "min_probability": model.min_probability},
    }
    per_persona: dict[str, dict] = {}
    if truth:
        p, r, f, s = precision_recall_fscore_support(truth, predicted, labels=evaluable, zero_division=0)
        for i, persona in enumerate(evaluable):
            per_persona[persona] = {"precision": round(float(p[i]), 6), "recall": round(float(r[i]), 6),
                                    "f1": round(float(f[i]), 6), "support": int(s[i]), "evaluable": True}  # fmt: skip
        metrics["accuracy"] = round(float(np.mean([a == b for a, b in zip(truth, predicted, strict=True)])), 6)
        metrics["macro_f1"] = round(float(np.mean(f)), 6)
        labels = [*evaluable, UNKNOWN]
        matrix = confusion_matrix(truth, predicted, labels=labels)
        # nonzero cells only, [truth index, predicted index, faces]: a dense matrix grows with the square of the
        # personas (1,000 of them: about 3 MB of JSON, past Cosmos DB's 2 MB row limit for model_versions)
        cells = [[int(i), int(j), int(matrix[i, j])] for i, j in zip(*np.nonzero(matrix), strict=True)]
        metrics["confusion"] = {"labels": labels, "cells": cells}
    else:
        metrics.update({"accuracy": None, "macro_f1": None, "confusion": {"labels": [], "cells": []}})
    for persona, c in zip(model.persona_ids, counts, strict=True):
        if c < 2:
            per_persona[persona] = {"precision": None, "recall": None, "f1": None, "support": int(c),
                                    "evaluable": False}  # fmt: skip
    metrics["per_persona"] = per_persona
    lpo_pred = model.decide(held["dist_lpo"], held["ok_lpo"])
    metrics["unknown_rejection_rate"] = (
        round(float(np.mean([r.persona_id is None for r in lpo_pred])), 6) if lpo_pred else None
    )
    metrics["unknown_rejection_faces"] = len(lpo_pred)
    all_pred = loo_pred + lpo_pred
    all_truth = truth + [UNKNOWN] * len(lpo_pred)
    confidence = np.array([r.score for r in all_pred], dtype=float)
    correct = np.array([a == b for a, b in zip(all_truth, _names(model, all_pred), strict=True)], dtype=float)
    metrics["calibration"] = _calibration(confidence, correct)
    metrics["rejection_violations"] = rejection_violations(model)
    return metrics


def rejection_violations(model: OpenSetClassifier) -> int:
    """How many rejected faces the model still predicts as the persona they were rejected for (must be 0)."""
    if len(model.rejected) == 0:
        return 0
    results = model.predict(model.rejected)
    return int(sum(
        r.persona_id is not None and str(r.persona_id) == model.persona_ids[label]
        for r, label in zip(results, model.rejected_labels, strict=True)
    ))  # fmt: skip


__all__ = ["evaluate", "fit_temperature", "normalize", "rejection_violations"]
