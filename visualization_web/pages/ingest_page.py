"""Ingest: drag-and-drop upload, folder / Azure Files / URL ingest (a refusal shown with its reason), live
progress per job."""

from __future__ import annotations

from flask import render_template, request

from common.db import get_database
from common.infra.settings import get_settings
from common.ingest.sources import redact
from common.repositories import jobs
from visualization_web import ingest_service
from visualization_web.auth import actor, require
from visualization_web.errors import ApiError
from visualization_web.pages.blueprint import bp
from visualization_web.pages.common import done


@bp.get("/ingest")
def ingest():
    return _page()


def _page(refused: str | None = None, source: str = "", status: int = 200):
    db = get_database()
    recent = []
    for job in jobs.recent(db, limit=15):
        try:
            recent.append(ingest_service.progress(db, job.job_id))
        except Exception:
            continue
    settings = get_settings()
    roots = [str(r) for r in settings.ingest_roots]
    shares = [f"azurefiles://{s.strip()}" for s in settings.allowed_ingest_shares.split(",") if s.strip()]
    return render_template("ingest.html", jobs=recent, roots=roots, shares=shares, refused=refused, source=source,
                           urls=settings.allow_url_ingest, redact=redact), status  # fmt: skip


@bp.post("/ingest/folder")
@require("labeler")
def ingest_folder():
    source = request.form.get("source", "")
    try:
        job_id = ingest_service.start_folder(get_database(), source, actor())
    except ApiError as exc:  # the form shows why, with the source still in it
        return _page(exc.message, source[:1024], exc.status)
    return done(f"Ingest {job_id} started.", "pages.ingest")


@bp.post("/ingest/upload")
@require("labeler")
def ingest_upload():
    job_id = ingest_service.start_upload(get_database(), ingest_service.uploads_of(request), actor())
    return done(f"Upload {job_id} started.", "pages.ingest")
