"""Ingest: start from a path (JSON) or an upload (multipart); read a job's progress."""

from __future__ import annotations

from flask import request

from common.db import get_database
from common.repositories import jobs
from visualization_web import ingest_service
from visualization_web.api.blueprint import bp
from visualization_web.api.contract import operation
from visualization_web.api.schemas.ingest import (
    IngestRequest,
    IngestStarted,
    IngestUpload,
    JobList,
    JobProgress,
    JobsQuery,
)
from visualization_web.auth import actor, require


@bp.post("/ingest")
@require("labeler")
# optional_body: openapi-python-client 0.29 writes broken code for a required body with two content types
# (its issue 1451); an empty request is refused all the same (422: 'source' is required)
@operation(IngestStarted, operation_id="start_ingest", tag="ingest", status=202, json=IngestRequest,
           form=IngestUpload, optional_body=True)  # fmt: skip
def ingest_start():
    """Start an ingest from a path (JSON) or from uploaded files (multipart, field 'files').

    A source the ingest policy refuses is 4xx with the reason, and no job starts."""
    db = get_database()
    if request.mimetype == "multipart/form-data":
        job_id = ingest_service.start_upload(db, ingest_service.uploads_of(request), actor())
    else:  # the source is decided by common.ingest.sources: refused -> 4xx with the reason, no job
        data = request.context.json
        job_id = ingest_service.start_folder(db, data.source, actor(), data.options)
    return IngestStarted(job_id=job_id, progress_url=f"/api/v1/ingest/{job_id}"), 202


LISTED_REJECTS_PER_LIST = 4000  # rejected files over all jobs of one list: at most 200 a job, fewer for long lists


@bp.get("/ingest")
@operation(JobList, operation_id="list_ingest_jobs", tag="ingest", query=JobsQuery)
def ingest_index(query: JobsQuery):
    """Recent ingest jobs with their progress and some of their rejected files.

    At most 200 rejected files a job, and 4000 / limit for longer lists."""
    db = get_database()
    per_job = min(jobs.MAX_REJECTED_LISTED, LISTED_REJECTS_PER_LIST // query.limit)
    return JobList(jobs=[JobProgress.model_validate(ingest_service.progress(db, job.job_id, per_job))
                         for job in jobs.recent(db, limit=query.limit)])  # fmt: skip


@bp.get("/ingest/<job_id>")
@operation(JobProgress, operation_id="get_ingest_job", tag="ingest", errors=(404,))
def ingest_show(job_id: str):
    """An ingest job's progress with up to 200 of its rejected files and their reasons."""
    return JobProgress.model_validate(ingest_service.progress(get_database(), job_id))
