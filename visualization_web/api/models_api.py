"""Models: versions, history, promote, rollback, retrain now."""

from __future__ import annotations

from common.db import get_database
from common.repositories import models as models_repo
from visualization_web import dashboard_queries, models_service, queries
from visualization_web.api.blueprint import bp
from visualization_web.api.contract import operation
from visualization_web.api.fields import event_model
from visualization_web.api.schemas import model_versions as schema
from visualization_web.api.schemas.shared import Event
from visualization_web.auth import actor, require

VERSION = {"version": "a model version number"}


@bp.get("/models")
@operation(schema.ModelsOverview, operation_id="list_models", tag="models")
def models_index():
    """Model versions, the active one, the promotion history, and the active version's reclassification pass.

    reclassify_pass is null when there is none (or Redis is down)."""
    db = get_database()
    active = queries.active_version(db)
    return schema.ModelsOverview.model_validate({
        "active_version": active,
        "versions": [models_service.version_dict(v) for v in models_repo.list_versions(db)],
        "history": models_service.history(db),
        "reclassify_pass": dashboard_queries.reclassify_pass(active),
    })  # fmt: skip


@bp.get("/models/<int:version>")
@operation(schema.ModelVersionDetail, operation_id="get_model", tag="models", errors=(404,), paths=VERSION)
def models_show(version: int):
    """One model version with its metrics: per persona, the confusion, and label counts."""
    return schema.ModelVersionDetail.model_validate(models_service.get(get_database(), version))


@bp.post("/models/<int:version>/promote")
@require("admin")
@operation(schema.ActiveVersion, operation_id="promote_model", tag="models", errors=(404, 409),
           json=schema.PromoteRequest, optional_body=True, paths=VERSION)  # fmt: skip
def models_promote(version: int, json: schema.PromoteRequest):
    """Promote a version (it becomes the active one; its predictions follow)."""
    db = get_database()
    models_service.promote(db, version, actor(), json.reason)
    return schema.ActiveVersion(active_version=queries.active_version(db))


@bp.post("/models/rollback")
@require("admin")
@operation(schema.ActiveVersion, operation_id="rollback_model", tag="models", errors=(403, 409))
def models_rollback():
    """Roll back to the previously active version."""
    return schema.ActiveVersion(active_version=models_service.rollback(get_database(), actor()))


@bp.post("/models/retrain")
@require("labeler")
@operation(Event, operation_id="retrain", tag="models", status=202, errors=(403, 503))
def models_retrain():
    """Retrain now (even when no label changed); the new version is promoted if it passes the gate."""
    return event_model(models_service.retrain_now(get_database(), actor())), 202
