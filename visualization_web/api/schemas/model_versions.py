"""Model versions: the registry overview, one version with its metrics, promote, rollback.

Metrics and label counts are stored as the trainer computed them, and older versions lack newer fields:
their known fields are typed (``StoredFigures``), missing ones stay missing, unknown ones pass through.
"""

from __future__ import annotations

from pydantic import Field

from visualization_web.api.schemas.shared import ApiModel, IsoTime, RequestModel, StoredFigures, Text


class EvaluationSample(StoredFigures):
    max_faces: int | None = None
    faces_per_persona: int | None = None
    evaluable_personas: int | None = None
    evaluated_personas: int | None = None


class Thresholds(StoredFigures):
    unknown_distance: float | None = None
    min_probability: float | None = None


class Calibration(StoredFigures):
    brier: float | None = None
    ece: float | None = None
    n: int | None = None


class Confusion(StoredFigures):
    labels: list[str] | None = Field(None, description="persona ids, then 'unknown'")
    cells: list[list[int]] | None = Field(None, description="nonzero cells: [truth index, predicted index, faces]")
    matrix: list[list[int]] | None = Field(None, description="a dense matrix (versions trained before cells)")


class PersonaFigures(StoredFigures):
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    support: int | None = None
    evaluable: bool | None = None
    sampled: bool | None = None


class ModelMetrics(StoredFigures):
    """Held-out evaluation of a version (docs/trainer-worker.md)."""

    accuracy: float | None = None
    macro_f1: float | None = Field(None, description="what the promotion gate compares")
    evaluated_faces: int | None = None
    method: str | None = None
    sample: EvaluationSample | None = None
    temperature: float | None = None
    thresholds: Thresholds | None = None
    unknown_rejection_rate: float | None = None
    unknown_rejection_faces: int | None = None
    calibration: Calibration | None = None
    rejection_violations: int | None = None
    per_persona: dict[str, PersonaFigures] | None = Field(None, description="by persona id (one version only)")
    confusion: Confusion | None = Field(None, description="one version only")


class PersonaLabelCounts(StoredFigures):
    confirmed: int | None = None
    rejected: int | None = None


class LabelCounts(StoredFigures):
    confirmed: int | None = None
    rejected: int | None = None
    personas: int | None = None
    per_persona: dict[str, PersonaLabelCounts] | None = None


class ModelVersion(ApiModel):
    version: int
    status: str | None = Field(description="candidate, active, rejected, retired or erased")
    reason: str | None
    metrics: ModelMetrics
    created_at: IsoTime | None
    promoted_at: IsoTime | None


class ModelVersionDetail(ModelVersion):
    label_counts: LabelCounts


class HistoryEntry(ApiModel):
    at: IsoTime
    version: int
    previous_version: int | None
    action: str = Field(description="promote, auto-promote, reject, rollback, ...")
    actor: str
    reason: str


class ReclassifyPass(ApiModel):
    """The newest full reclassification pass (it may be of a version before the active one)."""

    version: int
    pass_id: str
    shards_total: int
    shards_done: int
    planning: bool = Field(description="still cutting the token ring into shards")
    faces_predicted: int
    started_at: IsoTime | None
    finished_at: IsoTime | None = Field(description="null while shards are unfinished")
    decisions_changed: int = Field(0, description="faces whose decision (persona or unknown) the pass changed")
    kind: str = Field("full", description="full, or audit (a scheduled check)")


class ModelsOverview(ApiModel):
    active_version: int | None
    versions: list[ModelVersion]
    history: list[HistoryEntry]
    reclassify_pass: ReclassifyPass | None


class ActiveVersion(ApiModel):
    active_version: int | None


class PromoteRequest(RequestModel):
    reason: Text = Field("", description="why, for the history")
