"""Model registry actions for pages and API (the registry itself is :mod:`common.classifier.registry`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from common.classifier import registry
from common.db import Database
from common.labeling.retrain_trigger import request_retrain
from common.repositories import events
from common.repositories import models as models_repo
from visualization_web.errors import ApiError


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def version_dict(model: Any) -> dict:
    return {
        "version": int(model.version),
        "status": getattr(model, "status", None),
        "reason": getattr(model, "reason", None),
        "metrics": getattr(model, "metrics", None) or {},
        "created_at": _iso(getattr(model, "created_at", None)),
        "promoted_at": _iso(getattr(model, "promoted_at", None)),
    }


def history(db: Database, limit: int = 50) -> list[dict]:
    out = []
    for entry in models_repo.history(db, limit=limit):
        item = entry if isinstance(entry, dict) else dataclasses.asdict(entry)
        out.append({key: _iso(value) if not isinstance(value, str | int | float | type(None)) else value
                    for key, value in item.items()})  # fmt: skip
    return out


MAX_VERSION = 2**31 - 1  # model_versions.version is a CQL int


def _check(version: int) -> None:
    if not 0 <= version <= MAX_VERSION:
        raise ApiError(404, f"no model version {version}")


def get(db: Database, version: int) -> dict:
    _check(version)
    model = models_repo.get_version(db, version)
    if model is None:
        raise ApiError(404, f"no model version {version}")
    return detailed_dict(db, model)


def detailed_dict(db: Database, model: Any) -> dict:
    """:func:`version_dict` with per-persona metrics, the confusion and label counts (one row per persona in
    ``model_persona_metrics``; in the version's own row for versions trained before it)."""
    metrics, counts = registry.detailed_metrics(db, model)
    return {**version_dict(model), "metrics": metrics, "label_counts": counts}


def promote(db: Database, version: int, actor: str, reason: str = "") -> None:
    _check(version)
    if models_repo.get_version(db, version) is None:
        raise ApiError(404, f"no model version {version}")
    try:
        registry.promote(db, version, actor, reason=reason)
    except (ValueError, LookupError) as exc:
        raise ApiError(409, str(exc)) from exc


def rollback(db: Database, actor: str) -> int:
    try:
        return int(registry.rollback(db, actor))
    except (ValueError, LookupError) as exc:
        raise ApiError(409, str(exc)) from exc


def retrain_now(db: Database, actor: str) -> events.Event:
    event = events.record(db, "model.retrain_requested", actor, "manual", {})
    try:
        request_retrain("manual")
    except Exception as exc:
        raise ApiError(503, f"the event is recorded, but the broker did not take the request: {exc}") from exc
    return event
