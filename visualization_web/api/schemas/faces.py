"""Faces and labels: a face with its labels and prediction; confirm, reject and undo."""

from __future__ import annotations

import uuid

from pydantic import Field, RootModel, model_validator

from visualization_web.api.schemas.events import TIME_UUID
from visualization_web.api.schemas.shared import ApiModel, Box, Event, EventList, Key, RequestModel, Verdict, optional

MAX_BULK = 1000  # face ids in one request; more is refused with 413


class FaceLabel(ApiModel):
    persona_id: uuid.UUID
    persona: str | None = Field(description="the persona's name (null once it is deleted)")
    verdict: Verdict
    labeled_by: str


class FacePrediction(ApiModel):
    persona_id: uuid.UUID | None = Field(description="null: an unknown face")
    persona: str | None
    score: float
    distance: float | None
    model_version: int


class FaceDetail(ApiModel):
    face_id: str
    image_id: str
    box: Box
    detector: str
    det_score: float | None
    crop_url: str | None
    labels: list[FaceLabel]
    prediction: FacePrediction | None


class LabelRequest(RequestModel):
    """Label one face (face_id) or many (face_ids) for a persona: one of the two is required (said here,
    not in the schema's anyOf, which would leave a generated client without a typed body)."""

    persona_id: uuid.UUID
    verdict: Verdict
    face_id: Key = optional()
    face_ids: list[Key] = optional({"maxItems": MAX_BULK}, min_length=1)

    @model_validator(mode="after")
    def _one_or_many(self) -> LabelRequest:
        if self.face_id is None and self.face_ids is None:
            raise ValueError("send face_id or face_ids")
        return self


class LabelResult(RootModel[Event | EventList]):
    """One face's event (face_id), or the events of many (face_ids)."""


class UndoRequest(RequestModel):
    event_id: uuid.UUID = optional({"pattern": TIME_UUID}, description="the event to undo (default: your last)")
