"""The model registry: versions (LWT-allocated numbers), the active version, promotion history.

Its tables (``sequences``, ``model_versions``, ``active_model``, ``promotion_history``) are read and
written by :mod:`common.repositories.models`; this module holds the rules. Statuses: candidate, active,
rejected, retired, erased (a privacy erase removed faces it was trained on: its artifact is deleted and it
can never be promoted again, see :mod:`common.classifier.erasure`).

A version is loaded only through :func:`load_model`, which checks the artifact's pinned key, SHA-256 and
HMAC signature (:mod:`common.classifier.artifacts`) before unpickling.

A version's per-persona metrics and label counts are stored one row per persona
(``model_persona_metrics``); :func:`detailed_metrics` puts them back together for the web. Retention
(:func:`prune`, after each training): the newest ``PP_MODEL_RETENTION_VERSIONS`` versions are kept, and
so are the active version, the version a rollback would go back to, and every pinned version; the rest
lose their row, per-persona rows, history entries and artifact (unless a kept version shares it).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime

from common.classifier.artifacts import check_bytes, check_key, load_artifact, sign
from common.classifier.model import OpenSetClassifier
from common.classifier.stored_metrics import confusion_from_rows
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
from common.storage import BlobNotFound, InvalidKey, get_blob_store
from common.storage.base import validate_key

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
    (by default) ask the reclassify queue to refresh the predictions it can change (a scoped refresh, or a
    full pass when that cannot be bounded: ``trainer_worker.scoped_refresh``)."""
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
        request_refresh(version, previous)
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


def request_refresh(version: int, previous: int | None,
                    send_task: messages.SendTask = celery_app.send_task) -> None:  # fmt: skip
    """Ask the reclassify queue to refresh the predictions ``version`` changes compared with ``previous``."""
    messages.send(messages.RefreshPredictions(version=version, previous=previous), send_task)


def request_reclassify_all(version: int, send_task: messages.SendTask = celery_app.send_task) -> None:
    """Ask the reclassify queue to re-predict every unlabeled face with ``version``."""
    messages.send(messages.ReclassifyAll(version=version), send_task)


# ---------------------------------------------------------- per-persona figures
def store_persona_metrics(db: Database, version: int, per_persona: dict[str, dict]) -> None:
    """One ``model_persona_metrics`` row per persona: its metrics (with its confusion row) and label counts."""
    rows = []
    for persona, entry in per_persona.items():
        figures = {k: v for k, v in entry.items() if k not in ("confirmed", "rejected")}
        rows.append(models_repo.PersonaMetrics(persona, figures, entry.get("confirmed", 0), entry.get("rejected", 0)))
    models_repo.insert_persona_metrics(db, version, rows)


def detailed_metrics(db: Database, mv: ModelVersion) -> tuple[dict, dict]:
    """(metrics with ``per_persona`` and ``confusion``, label counts with ``per_persona``) of a version: from
    ``model_persona_metrics``, or, for a version trained before those rows existed, from its own row."""
    metrics, counts = dict(mv.metrics), dict(mv.label_counts)
    if "per_persona" in metrics:  # stored in the version's row (before migration 0011)
        return metrics, counts
    rows = models_repo.persona_metrics(db, mv.version)
    confused = {r.persona_id: r.metrics.get("confused") or {} for r in rows if r.metrics.get("confused")}
    metrics["per_persona"] = {r.persona_id: {k: v for k, v in r.metrics.items() if k != "confused"} for r in rows}
    metrics.setdefault("confusion", confusion_from_rows(confused))
    counts["per_persona"] = {r.persona_id: {"confirmed": r.confirmed, "rejected": r.rejected} for r in rows}
    return metrics, counts


# ---------------------------------------------------------- pin / retention
def pin(db: Database, version: int, pinned: bool = True) -> None:
    """A pinned version is kept by :func:`prune` (whatever its age) until unpinned."""
    if get_version(db, version) is None:
        raise RegistryError(f"no model version {version}")
    models_repo.set_pinned(db, version, pinned)


def kept_versions(db: Database, versions: list[ModelVersion], keep_newest: int) -> set[int]:
    """The newest ``keep_newest``, the active one, the one a rollback returns to, and the pinned ones."""
    keep = {mv.version for mv in sorted(versions, key=lambda v: v.version, reverse=True)[: max(1, keep_newest)]}
    keep |= {mv.version for mv in versions if mv.pinned}
    active = active_version(db)
    if active is not None:
        keep.add(active)
        previous = previous_active(db, active)
        if previous is not None:
            keep.add(previous)
    return keep


def prune(db: Database, keep_newest: int, store=None) -> list[int]:
    """Delete the versions :func:`kept_versions` does not keep: their per-persona rows, history entries,
    artifact (unless a kept version has the same one) and row, in that order (a crash leaves the row, and
    the next pruning finishes). Returns the pruned versions, oldest first."""
    versions = models_repo.list_versions(db, limit=1_000_000)
    keep = kept_versions(db, versions, keep_newest)
    doomed = sorted(mv.version for mv in versions if mv.version not in keep)
    if not doomed:
        return []
    store = store or get_blob_store()
    kept_keys = {mv.artifact_key for mv in versions if mv.version in keep and mv.artifact_key}
    by_version = {mv.version: mv for mv in versions}
    for version in doomed:
        models_repo.delete_persona_metrics(db, version)
    models_repo.delete_history_of(db, set(doomed))
    for version in doomed:
        key = by_version[version].artifact_key
        if key and key not in kept_keys:
            with contextlib.suppress(InvalidKey, BlobNotFound):
                store.delete(validate_key(key))
        models_repo.delete_version(db, version)
    log.info("pruned model versions %s (kept %s)", doomed, sorted(keep))
    return doomed
