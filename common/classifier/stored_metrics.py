"""How a version's metrics are stored: small totals in its ``model_versions`` row, one row per persona (with its
row of the confusion matrix and its label counts) in ``model_persona_metrics``, and back.

Kept apart from :mod:`common.classifier.evaluation` so that reading a version (the registry, the web app, the
input worker through the labeling actions) does not load scikit-learn.
"""

from __future__ import annotations

UNKNOWN = "unknown"


def confusion_rows(metrics: dict) -> dict[str, dict[str, int]]:
    """Truth persona -> {predicted persona or "unknown": faces}: the confusion matrix as one row per persona."""
    confusion = metrics.get("confusion") or {}
    labels = confusion.get("labels") or []
    rows: dict[str, dict[str, int]] = {}
    for i, j, n in confusion.get("cells") or []:
        rows.setdefault(labels[i], {})[labels[j]] = int(n)
    return rows


def confusion_from_rows(rows: dict[str, dict[str, int]]) -> dict:
    """The sparse ``{"labels", "cells"}`` confusion from per-persona rows (inverse of :func:`confusion_rows`)."""
    truths = sorted(rows)
    extra = sorted({p for row in rows.values() for p in row} - set(truths) - {UNKNOWN})
    labels = [*truths, *extra, UNKNOWN] if rows else []
    index = {label: i for i, label in enumerate(labels)}
    cells = sorted([index[t], index[p], int(n)] for t, row in rows.items() for p, n in row.items() if n)
    return {"labels": labels, "cells": cells}


def split_for_storage(metrics: dict, label_counts: dict) -> tuple[dict, dict, dict[str, dict]]:
    """(version metrics, version label counts, per persona: metrics with its confusion row and label counts).

    The first two go into the ``model_versions`` row and stay small at any number of personas; the
    per-persona part goes into ``model_persona_metrics`` (one row per persona)."""
    confused = confusion_rows(metrics)
    counts = label_counts.get("per_persona") or {}
    summary = {k: v for k, v in metrics.items() if k not in ("per_persona", "confusion")}
    summary["per_persona_stored"] = "model_persona_metrics"
    totals = {k: v for k, v in label_counts.items() if k != "per_persona"}
    per_persona: dict[str, dict] = {}
    for persona in sorted(set(metrics.get("per_persona") or {}) | set(counts) | set(confused)):
        entry = dict((metrics.get("per_persona") or {}).get(persona) or {})
        if persona in confused:
            entry["confused"] = confused[persona]
        entry["confirmed"] = int((counts.get(persona) or {}).get("confirmed", 0))
        entry["rejected"] = int((counts.get(persona) or {}).get("rejected", 0))
        per_persona[persona] = entry
    return summary, totals, per_persona
