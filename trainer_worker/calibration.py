"""Pinned calibration: a new version keeps the active version's embedding scale, softmax temperature and
prototype-index lists until they are ``PP_CALIBRATION_MAX_AGE_HOURS`` old, so that two versions in a row differ
only in their prototypes and rejections and a scoped refresh (``trainer_worker.scoped_refresh``) can bound what
changed. A refit (no active version, a version made before pinning, or the pinned values too old) gives new
values, and the promotion of such a version runs a full pass.

The scale and temperature live in the version's metrics (``metrics["calibration"]``: scale, temperature, and
``since``, when they were fitted); the index lists are read from the active version's artifact.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from common.classifier import registry
from common.classifier.model import OpenSetClassifier
from common.db import Database
from common.infra.settings import Settings
from common.repositories import models as models_repo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pinned:
    version: int  # the active version they come from
    scale: float
    temperature: float
    since: datetime  # when they were fitted


def pinned(db: Database, settings: Settings) -> Pinned | None:
    """The active version's calibration when it is fresh enough to keep; None when the next model is refitted."""
    active = models_repo.active_version(db)
    mv = models_repo.get_version(db, active) if active is not None else None
    values = (mv.metrics or {}).get("calibration") if mv is not None else None
    if active is None or not isinstance(values, dict):
        return None
    try:
        since = datetime.fromisoformat(values["since"])
        scale, temperature = float(values["scale"]), float(values["temperature"])
    except (KeyError, TypeError, ValueError):
        return None
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    if datetime.now(UTC) - since >= timedelta(hours=settings.calibration_max_age_hours):
        return None
    return Pinned(active, scale, temperature, since)


def index_centroids(db: Database, pin: Pinned | None) -> np.ndarray | None:
    """The lists of the pinned version's prototype index (None: refit, or that version has no index)."""
    if pin is None:
        return None
    try:
        index = registry.load_model(db, pin.version).index
    except Exception as exc:  # pruned or unreadable: the new version builds its own lists
        log.warning("index lists of v%s unavailable, building new ones: %s", pin.version, exc)
        return None
    return None if index is None else index.centroids


def apply(model: OpenSetClassifier, pin: Pinned | None) -> None:
    if pin is not None:
        model.scale, model.temperature = pin.scale, pin.temperature


def record(metrics: dict, model: OpenSetClassifier, pin: Pinned | None) -> dict:
    """``metrics`` with the model's calibration (fitted now when not pinned)."""
    when = pin.since if pin is not None else datetime.now(UTC)
    return {**metrics, "calibration": {"scale": model.scale, "temperature": model.temperature,
                                       "since": when.isoformat(), "refitted": pin is None}}  # fmt: skip
