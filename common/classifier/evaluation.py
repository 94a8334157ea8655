"""Held-out evaluation of an OpenSetClassifier on its own confirmed faces, on a bounded sample.

The classifier is nearest-neighbour based, so leave-one-out is exact and cheap:
each evaluated face is predicted with itself removed from the prototypes.
Personas with a single confirmed face cannot be held out (their face would
leave them with none) and are reported with ``evaluable: false``; macro-F1 is
over the evaluated personas. Unknown rejection is estimated by leaving a whole
persona out: its faces should then come out as unknown. The softmax
temperature is fitted (grid search on log-loss) on the same held-out predictions.

The sampling rule (:func:`sample_plan`), so memory and time do not grow with the personas:
with ``B`` = the sample size (``PP_EVAL_SAMPLE_FACES``, default 2,000) and ``E`` evaluable personas,
each evaluated persona holds out ``k = max(2, B // E)`` faces (all of its faces when it has fewer),
and ``min(E, B // k)`` personas are evaluated: all of them up to ``B / 2`` evaluable personas, a
seeded random choice of ``B // 2`` above. At most ``B`` faces are held out, whatever the number of
personas; the distance matrices are (held-out faces x personas). Evaluable personas outside the sample
are reported with ``sampled: false`` and no scores. Leave-one-persona-out uses 30 personas (seeded) and
at most 10 faces of each.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from sklearn.metrics import precision_recall_fscore_support

from common.classifier.model import OpenSetClassifier, normalize
from common.classifier.stored_metrics import UNKNOWN

TEMPERATURES = (0.04, 0.05, 0.07, 0.1, 0.14, 0.2, 0.3)
MAX_EVAL_FACES = 2000
MAX_LEFT_OUT_PERSONAS = 30
FACES_PER_LEFT_OUT_PERSONA = 10


def sample_plan(evaluable: int, sample_faces: int = MAX_EVAL_FACES) -> tuple[int, int]:
    """(faces held out per evaluated persona, personas evaluated) for ``evaluable`` personas with 2+ faces:
    ``k = max(2, B // E)`` and ``min(E, B // k)``, so at most ``B = sample_faces`` faces are held out."""
    if evaluable <= 0:
        return 0, 0
    per_persona = max(2, max(2, int(sample_faces)) // evaluable)
    return per_persona, min(evaluable, max(2, int(sample_faces)) // per_persona)


def _members(labels: np.ndarray, n_personas: int) -> list[np.ndarray]:
    """Per persona, its prototype rows in ascending order (one sort, not one scan per persona)."""
    order = np.argsort(labels, kind="stable")
    ends = np.cumsum(np.bincount(labels, minlength=n_personas))
    return np.split(order, ends[:-1]) if n_personas else []


def _held_out_rows(model: OpenSetClassifier, sample_faces: int = MAX_EVAL_FACES, seed: int = 0) -> np.ndarray:
    """Prototype indices to hold out one at a time (see :func:`sample_plan`): personas with >= 2 faces,
    stratified, at most ``sample_faces`` rows."""
    rng = np.random.default_rng(seed)
    members_of = _members(model.prototype_labels, model.n_personas)
    evaluable = np.array([i for i, m in enumerate(members_of) if len(m) >= 2], np.int64)
    if len(evaluable) == 0:
        return np.zeros(0, np.int64)
    per_persona, n_sampled = sample_plan(len(evaluable), sample_faces)
    if n_sampled < len(evaluable):  # a separate generator: below the cap the sample is what it always was
        evaluable = np.sort(np.random.default_rng(seed + 1).choice(evaluable, n_sampled, replace=False))
    rows = []
    for label in evaluable:
        members = members_of[label]
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
    members_of = _members(model.prototype_labels, model.n_personas)
    rows_arr = np.concatenate([members_of[label][:FACES_PER_LEFT_OUT_PERSONA] for label in personas])
    return rows_arr, model.prototype_labels[rows_arr]


def _held_out_scores(model: OpenSetClassifier, sample_faces: int = MAX_EVAL_FACES) -> dict:
    x = model.prototypes
    loo = _held_out_rows(model, sample_faces)
    dist_loo = model.persona_distances(x[loo], drop_prototype=loo)
    ok_loo = model.allowed(dist_loo, model.rejection_distances(x[loo]))
    lpo, lpo_labels = _left_out_persona_rows(model)
    dist_lpo = model.persona_distances(x[lpo])
    dist_lpo[np.arange(len(lpo)), lpo_labels] = np.inf  # the whole persona is left out
    ok_lpo = model.allowed(dist_lpo, model.rejection_distances(x[lpo]))
    return {"loo": loo, "dist_loo": dist_loo, "ok_loo": ok_loo, "lpo": lpo, "dist_lpo": dist_lpo, "ok_lpo": ok_lpo}


def fit_temperature(model: OpenSetClassifier, held: dict, chunk_rows: int = 256) -> float:
    """The temperature minimising log-loss on held-out faces (true class: persona, or unknown when left out).

    Probabilities are computed ``chunk_rows`` rows at a time (a softmax is per row: the same figures as
    the whole matrix at once, without holding (faces x personas) matrices per temperature)."""
    parts = [(held["dist_loo"], held["ok_loo"], model.prototype_labels[held["loo"]]),
             (held["dist_lpo"], held["ok_lpo"], np.full(len(held["lpo"]), model.n_personas))]  # fmt: skip
    if sum(len(truth) for _, _, truth in parts) == 0:
        return model.temperature
    best, best_loss = model.temperature, np.inf
    for t in TEMPERATURES:
        true_prob = []
        for dist, ok, truth in parts:
            for lo in range(0, len(truth), chunk_rows):
                prob = model.probabilities(dist[lo : lo + chunk_rows], ok[lo : lo + chunk_rows], t)
                true_prob.append(prob[np.arange(len(prob)), truth[lo : lo + chunk_rows]])
        loss = -np.mean(np.log(np.concatenate(true_prob) + 1e-12))
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


def evaluate(model: OpenSetClassifier, fit_calibration: bool = True, sample_faces: int = MAX_EVAL_FACES) -> dict:
    """Metrics dict (see docs/trainer-worker.md); sets ``model.temperature`` when ``fit_calibration``.
    At most ``sample_faces`` faces are held out (:func:`sample_plan`)."""
    held = _held_out_scores(model, sample_faces)
    if fit_calibration:
        model.temperature = fit_temperature(model, held)
    counts = np.bincount(model.prototype_labels, minlength=model.n_personas)
    loo_pred = model.decide(held["dist_loo"], held["ok_loo"])
    truth = [model.persona_ids[i] for i in model.prototype_labels[held["loo"]]]
    predicted = _names(model, loo_pred)
    sampled = sorted(set(truth))  # the evaluated personas (all evaluable ones up to sample_faces / 2)
    n_evaluable = int(np.sum(counts >= 2))
    per_persona_faces, _ = sample_plan(n_evaluable, sample_faces)
    metrics: dict = {
        "evaluated_faces": len(truth),
        "method": "leave-one-out (nearest-neighbour model)",
        "sample": {"max_faces": int(sample_faces), "faces_per_persona": per_persona_faces,
                   "evaluable_personas": n_evaluable, "evaluated_personas": len(sampled)},
        "temperature": model.temperature,
        "thresholds": {"unknown_distance": model.unknown_distance, "min_probability": model.min_probability},
    }  # fmt: skip
    per_persona: dict[str, dict] = {}
    if truth:
        p, r, f, s = precision_recall_fscore_support(truth, predicted, labels=sampled, zero_division=0)
        for i, persona in enumerate(sampled):
            per_persona[persona] = {"precision": round(float(p[i]), 6), "recall": round(float(r[i]), 6),
                                    "f1": round(float(f[i]), 6), "support": int(s[i]), "evaluable": True,
                                    "sampled": True}  # fmt: skip
        metrics["accuracy"] = round(float(np.mean([a == b for a, b in zip(truth, predicted, strict=True)])), 6)
        metrics["macro_f1"] = round(float(np.mean(f)), 6)
        metrics["confusion"] = _sparse_confusion(truth, predicted, sampled)
    else:
        metrics.update({"accuracy": None, "macro_f1": None, "confusion": {"labels": [], "cells": []}})
    for persona, c in zip(model.persona_ids, counts, strict=True):
        if c < 2:
            per_persona[persona] = {"precision": None, "recall": None, "f1": None, "support": int(c),
                                    "evaluable": False}  # fmt: skip
        elif persona not in per_persona:  # evaluable, outside the sample
            per_persona[persona] = {"precision": None, "recall": None, "f1": None, "support": 0,
                                    "evaluable": True, "sampled": False}  # fmt: skip
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


def _sparse_confusion(truth: list[str], predicted: list[str], evaluated: list[str]) -> dict:
    """Nonzero cells only, [truth index, predicted index, faces], over the evaluated personas, then any other
    persona predicted, then unknown: a dense matrix grows with the square of the personas."""
    extra = sorted(set(predicted) - set(evaluated) - {UNKNOWN})
    labels = [*evaluated, *extra, UNKNOWN]
    index = {label: i for i, label in enumerate(labels)}
    counts = Counter((index[a], index[b]) for a, b in zip(truth, predicted, strict=True))
    return {"labels": labels, "cells": [[i, j, n] for (i, j), n in sorted(counts.items())]}


def rejection_violations(model: OpenSetClassifier, chunk: int = 1000) -> int:
    """How many rejected faces the model still predicts as the persona they were rejected for (must be 0).

    A face can only be predicted as P when P is not excluded for it, i.e. when no face rejected for P is
    nearer than P's nearest confirmed face. A rejected face is itself rejected for P (distance ~0), so only
    faces with a confirmed face of P about as near (duplicates) can be; only those are predicted (in chunks)."""
    if len(model.rejected) == 0:
        return 0
    candidates = _possible_violations(model)
    total = 0
    for lo in range(0, len(candidates), chunk):
        rows = candidates[lo : lo + chunk]
        results = model.predict(model.rejected[rows])
        total += sum(
            r.persona_id is not None and str(r.persona_id) == model.persona_ids[label]
            for r, label in zip(results, model.rejected_labels[rows], strict=True)
        )
    return int(total)


def _possible_violations(model: OpenSetClassifier, margin: float = 1e-2) -> np.ndarray:
    """Rejected rows whose own persona may be allowed for them (a conservative superset: ``margin``)."""
    protos = _members(model.prototype_labels, model.n_personas)
    rejected = _members(model.rejected_labels, model.n_personas)
    rejected = [np.asarray(r, np.int64) for r in rejected]
    out = []
    for label in np.unique(model.rejected_labels):
        rows = rejected[label]
        if len(protos[label]) == 0:
            continue
        x = model.rejected[rows]
        confirmed_sim = (x @ model.prototypes[protos[label]].T).max(axis=1)
        self_sim = np.einsum("ij,ij->i", x, x)  # the face itself is among the persona's rejected faces
        # excluded when a rejected face (at least this one) is nearer than the nearest confirmed one
        maybe = confirmed_sim >= self_sim - margin
        out.append(rows[maybe])
    return np.concatenate(out) if out else np.zeros(0, np.int64)


__all__ = [
    "evaluate",
    "fit_temperature",
    "normalize",
    "rejection_violations",
    "sample_plan",
]
