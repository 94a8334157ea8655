"""Ingest: start from a path (JSON) or an upload (multipart); read a job's progress."""

from __future__ import annotations

from flask import jsonify, request

from common.db import get_database
from common.repositories import jobs
from visualization_web import ingest_service
from visualization_web.api.blueprint import bp
from visualization_web.api.fields import body, field, int_query
from visualization_web.auth import actor, require


@bp.post("/ingest")
@require("labeler")
def ingest_start():
    db = get_database()
    if request.mimetype == "multipart/form-data":
        job_id = ingest_service.start_upload(db, ingest_service.uploads_of(request), actor())
    else:  # the source is decided by common.ingest.sources: refused -> 4xx with the reason, no job
        data = body()
        job_id = ingest_service.start_folder(db, field(data, "source"), actor(), data.get("options"))
    return jsonify({"job_id": job_id, "progress_url": f"/api/v1/ingest/{job_id}"}), 202


LISTED_REJECTS_PER_LIST = 4000  # rejected files over all jobs of one list: at most 200 a job, fewer for long lists


@bp.get("/ingest")
def ingest_index():
    """Recent jobs with their counters (one partition each) and some of their rejected files."""
    db = get_database()
    limit = int_query("limit", 20, 1, 200)
    per_job = min(jobs.MAX_REJECTED_LISTED, LISTED_REJECTS_PER_LIST // limit)
    return jsonify({"jobs": [ingest_service.progress(db, job.job_id, per_job)
                             for job in jobs.recent(db, limit=limit)]})  # fmt: skip


@bp.get("/ingest/<job_id>")
def ingest_show(job_id: str):
    return jsonify(ingest_service.progress(get_database(), job_id))
