"""Personas: the bodies of list, create, read, rename, merge and delete, and of a persona's faces."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from common.repositories.personas import NAME_MAX
from visualization_web.api.schemas.shared import ApiModel, FaceCard, IsoTime, RequestModel, Text


class Persona(ApiModel):
    persona_id: uuid.UUID
    name: str
    created_by: str
    created_at: IsoTime | None


class PersonaSummary(Persona):
    confirmed: int = Field(description="faces confirmed for the persona")
    predictions_current: bool = Field(description="false while a refresh of its predictions after a label runs")


class PersonaList(ApiModel):
    personas: list[PersonaSummary]


class PersonaFaces(ApiModel):
    """One page of a persona's review lists."""

    persona: Persona
    model_version: int | None = Field(description="the active model version that made the predictions")
    confirmed_total: int
    rejected_total: int
    confirmed: list[FaceCard]
    rejected: list[FaceCard]
    predicted: list[FaceCard]
    image_ids: list[str] = Field(description="the images of the confirmed faces on this page")
    predictions_current: bool = Field(description="false while a refresh of its predictions after a label runs")


class PersonaName(RequestModel):
    name: Text = Field(max_length=NAME_MAX, description="spaces are trimmed; names are unique, ignoring case")


class MergeRequest(RequestModel):
    into: uuid.UUID = Field(description="the persona that keeps the faces")


class DeleteQuery(RequestModel):
    erase_faces: bool = Field(False, description="also erase the persona's confirmed faces and their images")


class FacesQuery(RequestModel):
    limit: int = Field(60, ge=1, le=500, description="faces per list")
    page: int = Field(0, ge=0, le=10_000, description="(page + 1) * limit must stay within 10,000")
    order: Literal["uncertain", "confident"] = Field("uncertain", description="predicted faces' order")
