"""POST /predict: an image in, its faces out."""

from __future__ import annotations

import uuid

from pydantic import Field

from visualization_web.api.schemas.shared import ApiModel, Box, RequestModel
from visualization_web.api.schemas.uploads import UploadedFile


class PredictUpload(RequestModel):
    image: UploadedFile


class PredictedFace(ApiModel):
    box: Box
    detection_score: float | None
    persona_id: uuid.UUID | None = Field(description="null: unknown, or no active model")
    persona: str | None
    score: float | None
    distance: float | None


class Prediction(ApiModel):
    model_version: int | None = Field(description="the active model version (null: none yet)")
    faces: list[PredictedFace]
