"""The model registry: versions (LWT-allocated numbers), the active version, promotion history.

Its tables (``sequences``, ``model_versions``, ``active_model``, ``promotion_history``) are read and
written by :mod:`common.repositories.models`; this module holds the rules. Statuses: candidate, active,
rejected, retired, erased (a privacy erase removed faces it was trained on: its artifact is deleted and it
can never be promoted again, see :mod:`common.classifier.erasure`).

A version is loaded only through :func:`load_model`, which checks the artifact's pinned key, SHA-256 and
HMAC signature (:mod:`common.classifier.artifacts`) before unpickling.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from common.classifier.artifacts import check_bytes, check_key, load_artifact, sign
from common.classifier.model import OpenSetClassifier
from common.db import Database
from common.infra import messages
from common.infra.celery_app import celery_app
from common.repositories import models as models_repo
from common.repositories import read_model
from common.repositories.models import (
    ModelVersion,
    active_version,
    get_version,
    history,
    record_history,
    set_status,
)
from common.storage import get_blob_store

log = logging.getLogger(__name__)

CANDIDATE, ACTIVE, REJECTED, RETIRED, ERASED = "candidate", "active", "rejected", "retired", "erased"
PROMOTING_ACTIONS = ("promote", "auto-promote", "erase-rewrite")


class RegistryError(ValueError):
    """A registry request that cannot be done (unknown version, nothing to roll back to)."""


def load_model(db: Database, version: int, store=None) -> OpenSetClassifier:
    """The version's classifier, after its artifact's key, SHA-256 and signature matched the registry row."""
    mv = get_version(db, version)
    if mv is None:
        raise RegistryError(f"no model version {version}")
    if mv.status == ERASED:
        raise RegistryError(f"v{version} was erased (it held erased faces): {mv.reason}")
    return load_artifact(store or get_blob_store(), mv.artifact_key, mv.artifact_sha256, mv.artifact_hmac)


def resign(db: Database, version: int, store=None) -> bool:
    """Sign the artifact of a version from before signing (upgrade path; run by an operator who trusts the
    current registry and blob store). Checks key and SHA-256 first; unpickles nothing. False when the
    version is signed already or has no artifact to sign."""
    mv = get_version(db, version)
    if mv is None:
        raise RegistryError(f"no model version {version}")
    if mv.artifact_hmac or mv.status == ERASED or not mv.artifact_key:
        return False
    check_key(mv.artifact_key, mv.artifact_sha256)
    data = (store or get_blob_store()).get(mv.artifact_key)
    signature = sign(data)
    check_bytes(data, mv.artifact_sha256, signature)
    models_repo.set_artifact_hmac(db, version, signature)
    return True


# ---------------------------------------------------------- promote/rollback
def promote(db: Database, version: int, actor: str, reason: str = "", action: str = "promote",
            reclassify: bool = True) -> ModelVersion:  # fmt: skip
    """Make ``version`` the active model (after checking its artifact loads), record it, and
    (by default) ask the reclassify queue to re-predict every unlabeled face with it."""
    mv = get_version(db, version)
    if mv is None:
        raise RegistryError(f"no model version {version}")
    load_model(db, version)  # refuses a missing or tampered artifact before anything changes
    previous = active_version(db)
    now = datetime.now(UTC)
    if previous is not None and previous != version:
        set_status(db, previous, RETIRED)
    models_repo.set_promoted(db, version, ACTIVE, now)
    models_repo.set_active(db, version, now)
    read_model.changed(db)
    record_history(db, version, previous, action, actor, reason)
    log.info("model v%s active (was v%s): %s by %s", version, previous, action, actor)
    if reclassify:
        request_reclassify_all(version)
    mv.status, mv.promoted_at = ACTIVE, now
    return mv


def previous_active(db: Database, current: int) -> int | None:
    """The version that was active before ``current`` was last promoted (rollbacks unwind promotions)."""
    for entry in history(db, limit=500):
        if entry.version == current and entry.action in PROMOTING_ACTIONS:
            return entry.previous_version
    return None


def rollback(db: Database, actor: str, reclassify: bool = True) -> int:
    """Back to the version active before the current one; returns that version."""
    current = active_version(db)
    if current is None:
        raise RegistryError("no active model to roll back")
    target = previous_active(db, current)
    if target is None:
        raise RegistryError(f"v{current} has no previous version to roll back to")
    promote(db, target, actor, reason=f"rollback from v{current}", action="rollback", reclassify=reclassify)
    set_status(db, current, RETIRED, reason=f"rolled back by {actor}")
    return target


def request_reclassify_all(version: int, send_task: messages.SendTask = celery_app.send_task) -> None:
    """Ask the reclassify queue to re-predict every unlabeled face with ``version``."""
    messages.send(messages.ReclassifyAll(version=version), send_task)
