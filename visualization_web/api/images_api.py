"""Images: the newest images with their source names; one image with its faces."""

from __future__ import annotations

from datetime import datetime

from flask import jsonify, request

from common.db import get_database
from common.repositories import images
from visualization_web import queries
from visualization_web.api.blueprint import bp
from visualization_web.api.fields import int_query
from visualization_web.errors import ApiError


@bp.get("/images")
def images_index():
    before = None
    if request.args.get("before"):
        try:
            before = datetime.fromisoformat(request.args["before"])
        except ValueError:
            raise ApiError(400, "before must be an ISO 8601 timestamp") from None
    rows = images.list_recent(get_database(), limit=int_query("limit", 50, 1, 500), before=before)
    return jsonify({"images": [{"image_id": image_id, "source_name": name, "created_at": at.isoformat()}
                               for at, image_id, name in rows]})  # fmt: skip


@bp.get("/images/<image_id>")
def images_show(image_id: str):
    detail = queries.image_detail(get_database(), image_id[:128])
    if detail is None:
        raise ApiError(404, f"no image {image_id[:128]}")
    return jsonify(detail)
