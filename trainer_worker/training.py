"""One training run: gather labels, fit, evaluate, store the artifact, register, gate, promote, prune.

Sized for 100k labels and 10k personas (``make bench``: ``python -m benchmarks.training_scale``): labels
are read in one paged scan, evaluation holds out a bounded sample (``PP_EVAL_SAMPLE_FACES``), per-persona
figures go to their own table (the version's row stays small), and old versions are pruned
(``PP_MODEL_RETENTION_VERSIONS``).
"""

from __future__ import annotations

import logging
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from common.classifier import registry
from common.classifier.artifacts import dump_model, save_artifact, sign
from common.classifier.evaluation import evaluate
from common.classifier.gate import decide
from common.classifier.model import OpenSetClassifier
from common.classifier.stored_metrics import split_for_storage
from common.db import Database
from common.infra import metrics
from common.infra.settings import Settings, get_settings
from common.repositories import events
from common.repositories import models as models_repo
from common.storage import get_blob_store
from trainer_worker import calibration, state
from trainer_worker.training_data import gather

log = logging.getLogger(__name__)

TRAINER_ACTOR = "trainer"
MANUAL_EVENT = "model.retrain_requested"
LIBRARIES = ("scikit-learn", "numpy", "scipy", "joblib", "dlib-bin")


@dataclass(frozen=True)
class TrainingOutcome:
    status: str  # active | rejected | skipped
    version: int | None
    reason: str
    duration_s: float = 0.0


def library_versions() -> dict:
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = package_version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def model_params(settings: Settings) -> dict:
    return {"model": "open-set-nearest-persona", "format": OpenSetClassifier.format_version,
            "unknown_distance": settings.unknown_distance, "min_probability": settings.min_probability}  # fmt: skip


def run_training(db: Database, reason: str = "", force: bool = False,
                 settings: Settings | None = None) -> TrainingOutcome:  # fmt: skip
    """Train on the current labels; promote through the quality gate. Skips when nothing changed
    since the latest version (unless ``force``). Never changes a human label."""
    settings = settings or get_settings()
    started = time.monotonic()
    state.mark_started(db)
    pending = events.training_events_since(db, state.get(db).last_event_id)
    covered = pending[-1].event_id if pending else None
    force = force or any(e.kind == MANUAL_EVENT for e in pending)  # "retrain now" trains even if nothing changed
    data = gather(db)
    read_s = time.monotonic() - started
    params = model_params(settings)
    digest = data.digest(params)
    if not data.face_ids:
        state.mark_finished(db, covered)
        metrics.record_training("skipped", time.monotonic() - started)
        return TrainingOutcome("skipped", None, "no confirmed labels yet")
    latest = models_repo.latest_version(db)
    if not force and latest is not None and latest.data_digest == digest:
        if latest.status == registry.CANDIDATE:  # a trainer died between registering and gating this version
            status, why = _gate(db, latest.version, latest.metrics, settings)
            state.mark_finished(db, covered)
            log.info("v%s (interrupted before its gate): %s (%s)", latest.version, status, why)
            metrics.record_training(status, time.monotonic() - started)
            _record_refresh(status, pending)
            return TrainingOutcome(status, latest.version, why, round(time.monotonic() - started, 3))
        state.mark_finished(db, covered)
        metrics.record_training("skipped", time.monotonic() - started)
        return TrainingOutcome("skipped", latest.version, f"training data unchanged since v{latest.version}")

    pin = calibration.pinned(db, settings)  # the active version's scale, temperature and index lists, if fresh
    model = OpenSetClassifier(settings.unknown_distance, settings.min_probability).fit(
        data.embeddings,
        data.persona_ids,
        data.rejected_embeddings,
        data.rejected_persona_ids,
        index_centroids=calibration.index_centroids(db, pin),
    )
    calibration.apply(model, pin)
    fitted_s = time.monotonic() - started
    evaluated = evaluate(model, fit_calibration=pin is None, sample_faces=settings.eval_sample_faces)
    evaluated = calibration.record(evaluated, model, pin)
    evaluated_s = time.monotonic() - started
    metrics_of, label_counts, per_persona = split_for_storage(evaluated, data.label_counts)
    artifact = dump_model(model)
    key, sha = save_artifact(get_blob_store(), artifact)
    version = models_repo.next_version(db)
    registry.store_persona_metrics(db, version, per_persona)  # before the row: a listed version is complete
    duration = round(time.monotonic() - started, 3)
    mv = models_repo.ModelVersion(
        version=version, status=registry.CANDIDATE, reason=reason[:500], metrics=metrics_of,
        label_counts=label_counts, data_digest=digest, embedder=data.embedder,
        library_versions=library_versions(), duration_s=duration, artifact_key=key, artifact_sha256=sha,
        created_at=datetime.now(UTC), trigger_event=covered, artifact_hmac=sign(artifact),
    )  # fmt: skip
    models_repo.insert_version(db, mv)
    status, why = _gate(db, version, metrics_of, settings)
    state.mark_finished(db, covered)
    _prune(db, settings)
    log.info("trained v%s in %.2fs (read %.1fs, fit %.1fs, evaluate %.1fs, store/gate/prune %.1fs): %s (%s)",
             version, duration, read_s, fitted_s - read_s, evaluated_s - fitted_s,
             time.monotonic() - started - evaluated_s,
             status, why)  # fmt: skip
    metrics.record_training(status, time.monotonic() - started, version, labels=len(data.face_ids),
                            personas=len(set(data.persona_ids)), macro_f1=metrics_of.get("macro_f1"),
                            accuracy=metrics_of.get("accuracy"))  # fmt: skip
    _record_refresh(status, pending)
    return TrainingOutcome(status, version, why, duration)


def _record_refresh(status: str, pending: list[events.Event]) -> None:
    """A promoted version: the time from the last change it learned (its ``trigger_event``: a label, a retrain
    request) to now; the reclassification measures the same event to its refreshed predictions."""
    if status == registry.ACTIVE and pending:
        metrics.record_label_to_refresh("model", (datetime.now(UTC) - pending[-1].at).total_seconds())


def _prune(db: Database, settings: Settings) -> None:
    """Old versions go (see :func:`registry.prune`); a failure here never fails the training."""
    try:
        registry.prune(db, settings.model_retention_versions)
    except Exception as exc:  # the next training prunes again
        log.warning("pruning old model versions failed: %s", exc)


def _gate(db: Database, version: int, metrics: dict, settings: Settings) -> tuple[str, str]:
    """Promote ``version`` or reject it against the active model; returns (status, reason)."""
    active = models_repo.active_version(db)
    active_mv = models_repo.get_version(db, active) if active is not None and active != version else None
    decision = decide(metrics, active_mv.metrics if active_mv else None, settings.promotion_tolerance)
    if decision.promote:
        registry.promote(db, version, TRAINER_ACTOR, reason=decision.reason, action="auto-promote")
        return registry.ACTIVE, decision.reason
    models_repo.set_status(db, version, registry.REJECTED, reason=decision.reason)
    models_repo.record_history(db, version, active, "reject", TRAINER_ACTOR, decision.reason)
    return registry.REJECTED, decision.reason
