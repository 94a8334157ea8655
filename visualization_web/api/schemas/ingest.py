"""Ingest: start a job from a path or uploaded files; a job's progress."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from visualization_web.api.schemas.shared import ApiModel, IsoTime, RequestModel, Text, optional
from visualization_web.api.schemas.uploads import UploadedFile, as_list


class IngestRequest(RequestModel):
    source: Text = Field(description="a folder under PP_ALLOWED_INGEST_ROOTS, an Azure Files path or an image URL")
    options: dict[str, Any] = optional(description="e.g. labels_from_folders")


class IngestUpload(RequestModel):
    files: Annotated[list[UploadedFile], BeforeValidator(as_list)] = Field(min_length=1)


class IngestStarted(ApiModel):
    job_id: str
    progress_url: str = Field(description="GET it for the job's progress")


class RejectedFile(ApiModel):
    name: str
    reason: str


class JobProgress(ApiModel):
    job_id: str
    source: str
    status: str = Field(description="discovering, running, done or failed")
    discovered: int | None = Field(description="files found (null while discovering)")
    stored: int
    duplicates: int
    rejected: int
    extracted: int
    faces: int
    error: str | None
    created_by: str
    created_at: IsoTime | None
    rejected_files: list[RejectedFile] = Field(description="up to 200 of the job's rejected files")


class JobList(ApiModel):
    jobs: list[JobProgress]


class JobsQuery(RequestModel):
    limit: int = Field(20, ge=1, le=200)
