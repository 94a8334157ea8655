"""Images: the newest images, and one image with every face box drawn over it."""

from __future__ import annotations

from datetime import datetime

from flask import render_template, request

from common.db import get_database
from common.repositories import images
from visualization_web import page_cache, queries
from visualization_web.pages.blueprint import bp
from visualization_web.pages.common import int_arg


@bp.get("/images")
def images_list():
    db = get_database()
    before = None
    if request.args.get("before"):
        try:
            before = datetime.fromisoformat(request.args["before"])
        except ValueError:
            before = None
    rows = images.list_recent(db, limit=int_arg("limit", 60, 1, 500), before=before)
    return render_template("images.html", rows=rows)


@bp.get("/images/<image_id>")
def image_detail(image_id: str):
    image_id = image_id[:128]
    return page_cache.serve(f"image:{image_id}", lambda: _image_page(image_id))


def _image_page(image_id: str):
    detail = queries.image_detail(get_database(), image_id, with_rotation=True)
    if detail is None:
        return render_template("error.html", status=404, message="No such image."), 404
    return render_template("image.html", image=detail)
