"""Models: versions with metrics, per-persona F1 chart, confusion matrix, promote / rollback / retrain now."""

from __future__ import annotations

import logging

from flask import render_template, request

from common.db import get_database
from common.repositories import models as models_repo
from visualization_web import charts, models_service, queries
from visualization_web.auth import actor, require
from visualization_web.pages.blueprint import bp
from visualization_web.pages.common import done, int_arg

log = logging.getLogger(__name__)


def model_summary(db, version: int | None) -> dict | None:
    if version is None:
        return None
    try:
        model = models_repo.get_version(db, version)
    except Exception as exc:
        log.warning("model %s unavailable: %s", version, exc)
        return None
    return models_service.version_dict(model) if model is not None else None


@bp.get("/models")
def models():
    db = get_database()
    versions = [models_service.version_dict(v) for v in models_repo.list_versions(db)]
    active = queries.active_version(db)
    chosen = int_arg("version", active or (versions[0]["version"] if versions else 0), 0, 10**9)
    selected = next((v for v in versions if v["version"] == chosen), None)
    chart = confusion = None
    if selected:
        names = {str(k): v for k, v in queries.persona_names(db).items()}
        model = models_repo.get_version(db, chosen)
        metrics = models_service.detailed_dict(db, model)["metrics"] if model else selected.get("metrics") or {}
        scored = {p: m for p, m in (metrics.get("per_persona") or {}).items() if m.get("sampled", True)}
        bars, height = charts.f1_bars(scored, names)  # personas outside the evaluation sample have no F1
        chart = {"bars": bars, "height": height}
        stored = metrics.get("confusion") or {}
        labels = [names.get(str(label), str(label)[:8]) for label in stored.get("labels", [])]
        counts = charts.confusion_counts(stored)
        drawn = len(labels) <= charts.MAX_MATRIX_LABELS
        cells, size = charts.confusion_cells(counts, len(labels)) if drawn else ([], 0)
        confusion = {"cells": cells, "size": size, "labels": labels, "cell": 28, "offset": 150,
                     "pairs": charts.most_confused(counts, labels)}  # fmt: skip
    return render_template(
        "models.html", versions=versions, active=active, selected=selected, chart=chart,
        confusion=confusion, history=models_service.history(db),
    )  # fmt: skip


@bp.post("/models/<int:version>/promote")
@require("admin")
def promote(version: int):
    models_service.promote(get_database(), version, actor(), request.form.get("reason", ""))
    return done(f"Version {version} promoted.", "pages.models")


@bp.post("/models/rollback")
@require("admin")
def rollback():
    version = models_service.rollback(get_database(), actor())
    return done(f"Rolled back to version {version}.", "pages.models")


@bp.post("/models/retrain")
@require("labeler")
def retrain():
    models_service.retrain_now(get_database(), actor())
    return done("Retrain requested.", "pages.models")
