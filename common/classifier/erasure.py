"""A privacy erase reaches the model registry: no kept version may still hold an erased face's embedding.

Every model version stores the (normalised) embeddings of the faces it was trained on, confirmed and
rejected. When faces are erased, each version whose artifact holds any of them is *erased*: its
artifact is deleted from the blob store and its row says ``erased`` (no key, no signature), so
promote and rollback refuse it. An artifact that cannot be inspected (unsigned or tampered: it is
never unpickled) is erased too, since nobody can show it is clean.

The active version is replaced at once rather than left serving erased faces: a copy without the
erased rows (and without personas left with no confirmed face) is stored, signed and promoted as a
new version (action ``erase-rewrite``, metrics copied from the version it replaces); a retrain on the
remaining labels follows as usual. Should nothing be left (every persona erased), no model is active
until the next training: every face is then unknown.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from common.classifier import registry
from common.classifier.artifacts import ArtifactIntegrityError, dump_model, save_artifact, sign
from common.classifier.model import OpenSetClassifier
from common.db import Database
from common.repositories import models as models_repo
from common.repositories import read_model
from common.storage import BlobNotFound, BlobStore, InvalidKey, get_blob_store
from common.storage.base import validate_key

log = logging.getLogger(__name__)

REWRITE_ACTION = "erase-rewrite"


@dataclass
class ModelErasure:
    erased_versions: list[int] = field(default_factory=list)
    replacement: int | None = None  # the new active version, when the active one held erased faces
    deactivated: bool = False  # the active one held nothing else: no model is active now


def erase_embeddings(db: Database, embeddings: np.ndarray, actor: str, store: BlobStore | None = None,
                     reason: str = "privacy erase") -> ModelErasure:  # fmt: skip
    """Erase every version holding any of ``embeddings`` (rows of 128 floats); replace the active one."""
    result = ModelErasure()
    if len(embeddings) == 0:
        return result
    store = store or get_blob_store()
    active = models_repo.active_version(db)
    for mv in models_repo.list_versions(db, limit=100_000):
        if mv.status == registry.ERASED:
            continue
        model, holds = _inspect(db, store, mv, embeddings)
        if not holds:
            continue
        if mv.version == active:
            if model is not None:
                result.replacement = _replace(db, store, mv, model.without(embeddings), actor, reason)
            if result.replacement is None:
                deactivate(db, mv.version, actor, reason)
                result.deactivated = True
        _erase_version(db, store, mv, reason)
        result.erased_versions.append(mv.version)
    if result.erased_versions:
        log.warning("%s: model versions %s erased%s", reason, result.erased_versions,
                    f", v{result.replacement} active" if result.replacement else "")  # fmt: skip
    return result


def _inspect(db: Database, store: BlobStore, mv: models_repo.ModelVersion,
             embeddings: np.ndarray) -> tuple[OpenSetClassifier | None, bool]:  # fmt: skip
    """(the loaded model or None, whether the version must be erased)."""
    if not mv.artifact_key:
        return None, False
    try:
        model = registry.load_model(db, mv.version, store)
    except BlobNotFound:
        return None, False  # nothing kept to erase; the version cannot be promoted anyway
    except (ArtifactIntegrityError, registry.RegistryError) as exc:
        log.warning("v%s cannot be inspected (%s): erased to be safe", mv.version, exc)
        return None, True
    return model, model.holds_any(embeddings)


def _replace(db: Database, store: BlobStore, old: models_repo.ModelVersion, model: OpenSetClassifier, actor: str,
             reason: str) -> int | None:  # fmt: skip
    if model.n_personas == 0:
        return None
    data = dump_model(model)
    key, sha = save_artifact(store, data)
    version = models_repo.next_version(db)
    why = f"v{old.version} without erased faces ({reason})"
    models_repo.insert_version(db, models_repo.ModelVersion(
        version=version, status=registry.CANDIDATE, reason=why, metrics=old.metrics,
        label_counts={"confirmed": len(model.prototypes), "rejected": len(model.rejected),
                      "personas": model.n_personas},
        embedder=old.embedder, library_versions=old.library_versions, artifact_key=key, artifact_sha256=sha,
        artifact_hmac=sign(data), created_at=datetime.now(UTC),
    ))  # fmt: skip
    kept = set(model.persona_ids)  # the replaced version's per-persona figures, for the personas it still has
    models_repo.insert_persona_metrics(db, version, [
        row for row in models_repo.persona_metrics(db, old.version) if str(row.persona_id) in kept
    ])  # fmt: skip
    # no reclassify yet: the caller asks for it once the erased faces are gone (else they would be sent again)
    registry.promote(db, version, actor, reason=why, action=REWRITE_ACTION, reclassify=False)
    return version


def deactivate(db: Database, version: int, actor: str, reason: str) -> None:
    """No active model (predictions are unknown) until the next training promotes one."""
    models_repo.clear_active(db)
    read_model.changed(db)
    models_repo.record_history(db, version, version, "deactivate", actor, reason)


def _erase_version(db: Database, store: BlobStore, mv: models_repo.ModelVersion, reason: str) -> None:
    with contextlib.suppress(InvalidKey, BlobNotFound):
        store.delete(validate_key(mv.artifact_key))
    models_repo.drop_artifact(db, mv.version, registry.ERASED, f"erased: held faces removed by a {reason}")
    read_model.changed(db)
