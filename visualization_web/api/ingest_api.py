"""Ingest: start from a path (JSON) or an upload (multipart); read a job's progress."""

from __future__ import annotations

from flask import jsonify, request

from common.db import get_database
from common.repositories import jobs
from visualization_web import ingest_service
from visualization_web.api import body, bp, field, int_query
from visualization_web.auth import actor, require


@bp.post("/ingest")
@require("labeler")
def ingest_start():
    db = get_database()
    if request.mimetype == "multipart/form-data":
        files = [(f.filename or "upload", f.read()) for f in request.files.getlist("files")]
        job_id = ingest_service.start_upload(db, files, actor())
    else:
        data = body()
        options = data.get("options")
        if options is not None and not isinstance(options, dict):
            options = None
        job_id = ingest_service.start_folder(db, field(data, "source"), actor(), options)
    return jsonify({"job_id": job_id, "progress_url": f"/api/v1/ingest/{job_id}"}), 202


@bp.get("/ingest")
def ingest_index():
    db = get_database()
    return jsonify({"jobs": [ingest_service.progress(db, job.job_id)
                             for job in jobs.recent(db, limit=int_query("limit", 20, 1, 200))]})  # fmt: skip


@bp.get("/ingest/<job_id>")
def ingest_show(job_id: str):
    return jsonify(ingest_service.progress(get_database(), job_id))
