"""Models: versions, history, promote, rollback, retrain now."""

from __future__ import annotations

from flask import jsonify, request

from common.db import get_database
from common.repositories import models as models_repo
from visualization_web import dashboard_queries, models_service, queries
from visualization_web.api.blueprint import bp
from visualization_web.api.fields import event_json
from visualization_web.auth import actor, require


@bp.get("/models")
def models_index():
    db = get_database()
    versions = [models_service.version_dict(v) for v in models_repo.list_versions(db)]
    active = queries.active_version(db)
    return jsonify({"active_version": active, "versions": versions, "history": models_service.history(db),
                    "reclassify_pass": dashboard_queries.reclassify_pass(active)})  # fmt: skip


@bp.get("/models/<int:version>")
def models_show(version: int):
    return jsonify(models_service.get(get_database(), version))


@bp.post("/models/<int:version>/promote")
@require("admin")
def models_promote(version: int):
    data = request.get_json(silent=True) or {}
    reason = data.get("reason") if isinstance(data, dict) and isinstance(data.get("reason"), str) else ""
    db = get_database()
    models_service.promote(db, version, actor(), reason)
    return jsonify({"active_version": queries.active_version(db)})


@bp.post("/models/rollback")
@require("admin")
def models_rollback():
    return jsonify({"active_version": models_service.rollback(get_database(), actor())})


@bp.post("/models/retrain")
@require("labeler")
def models_retrain():
    return jsonify(event_json(models_service.retrain_now(get_database(), actor()))), 202
