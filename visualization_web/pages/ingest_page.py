"""Ingest: drag-and-drop upload, folder / Azure Files ingest, live progress per job."""

from __future__ import annotations

from flask import render_template, request

from common.db import get_database
from common.repositories import jobs
from common.settings import get_settings
from visualization_web import ingest_service
from visualization_web.auth import actor, require
from visualization_web.pages import bp
from visualization_web.pages.common import done


@bp.get("/ingest")
def ingest():
    db = get_database()
    recent = []
    for job in jobs.recent(db, limit=15):
        try:
            recent.append(ingest_service.progress(db, job.job_id))
        except Exception:
            continue
    roots = [str(r) for r in get_settings().ingest_roots]
    return render_template("ingest.html", jobs=recent, roots=roots)


@bp.post("/ingest/folder")
@require("labeler")
def ingest_folder():
    job_id = ingest_service.start_folder(get_database(), request.form.get("source", ""), actor())
    return done(f"Ingest {job_id} started.", "pages.ingest")


@bp.post("/ingest/upload")
@require("labeler")
def ingest_upload():
    files = [(f.filename or "upload", f.read()) for f in request.files.getlist("files")]
    job_id = ingest_service.start_upload(get_database(), files, actor())
    return done(f"Upload {job_id} started.", "pages.ingest")
