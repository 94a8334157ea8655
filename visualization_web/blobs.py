"""Images and face crops from the blob store; keys are content addressed, so they cache forever."""

from __future__ import annotations

import mimetypes

from flask import Blueprint, Response, abort, request

from common.storage import BlobNotFound, InvalidKey, get_blob_store
from common.storage.base import validate_key

bp = Blueprint("blobs", __name__)
ALLOWED_KINDS = ("images/", "crops/")


@bp.get("/blobs/<path:key>")
def blob(key: str):
    if not key.startswith(ALLOWED_KINDS):
        abort(404)
    try:
        validate_key(key)
    except InvalidKey:
        abort(404)
    if request.headers.get("If-None-Match") == f'"{key}"':
        return Response(status=304, headers=_cache_headers(key))
    try:
        data = get_blob_store().get(key)
    except (BlobNotFound, FileNotFoundError):
        abort(404)
    mimetype = mimetypes.guess_type(key)[0] or "application/octet-stream"
    if not mimetype.startswith("image/"):
        mimetype = "application/octet-stream"
    return Response(data, mimetype=mimetype, headers=_cache_headers(key))


def _cache_headers(key: str) -> dict:
    return {"Cache-Control": "private, max-age=31536000, immutable", "ETag": f'"{key}"'}
