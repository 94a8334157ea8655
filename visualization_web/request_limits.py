"""Per-route request body limits, so no request can make the web app read more than its route needs.

One table says how large a body each route takes. A ``before_request`` hook refuses a larger declared body
(``Content-Length``) with 413 before the view runs, and caps the stream at the same size for bodies sent
without a length (chunked): reading past it raises 413. (werkzeug's own cap, ``request.max_content_length``,
settable per request since Flask 3.1, is set too; alone it ends such a body quietly at the limit, and a view
would see a truncated body rather than an error.) Uploads take ``PP_MAX_UPLOAD_BYTES``, ``/predict`` one image
(``PP_MAX_IMAGE_BYTES``) plus multipart overhead; every other route a small JSON or form body.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from flask import Flask, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from common.infra.settings import Settings, get_settings
from visualization_web.errors import ApiError

KIB = 1024
DEFAULT_BODY = 64 * KIB  # a JSON object or a form: names, ids, a few options
BULK_BODY = 256 * KIB  # up to 1,000 face ids (bulk labels, "assign group")
MULTIPART_OVERHEAD = 64 * KIB  # part headers and boundaries around one image

Limit = Callable[[Settings], int]


def _fixed(size: int) -> Limit:
    return lambda _settings: size


def _uploads(settings: Settings) -> int:
    return settings.max_upload_bytes


def _one_image(settings: Settings) -> int:
    return settings.max_image_bytes + MULTIPART_OVERHEAD


# endpoint -> largest body, for any body / for a multipart/form-data body (routes that take files)
LIMITS: dict[str, Limit] = {
    "api.labels_create": _fixed(BULK_BODY),
    "pages.unknown_create": _fixed(BULK_BODY),
    "pages.unknown_assign": _fixed(BULK_BODY),
    "api.predict": _one_image,  # the raw image body, or one multipart part
    "pages.ingest_upload": _uploads,
}
MULTIPART_LIMITS: dict[str, Limit] = {
    "api.ingest_start": _uploads,  # its JSON form (a source) is a small body
    "pages.ingest_upload": _uploads,
    "api.predict": _one_image,
}


def limit_for(endpoint: str | None, mimetype: str, settings: Settings) -> int:
    """The largest body ``endpoint`` reads for a request of ``mimetype``."""
    endpoint = endpoint or ""
    if mimetype == "multipart/form-data" and endpoint in MULTIPART_LIMITS:
        return MULTIPART_LIMITS[endpoint](settings)
    return LIMITS.get(endpoint, _fixed(DEFAULT_BODY))(settings)


def enforce() -> None:
    """``before_request``: refuse a declared body over the route's limit; cap an undeclared one."""
    limit = limit_for(request.endpoint, request.mimetype, get_settings())
    ceiling = current_app.config.get("MAX_CONTENT_LENGTH")  # the app's limit for every route, when set
    if ceiling is not None:
        limit = min(limit, ceiling)
    request.max_content_length = limit
    declared = request.content_length
    if declared is not None and declared > limit:
        raise ApiError(413, f"the request body is {declared} bytes; this address takes at most {limit} bytes")
    if declared is None and request.environ.get("wsgi.input_terminated"):  # chunked: its size shows as it is read
        request.environ["wsgi.input"] = CappedInput(request.environ["wsgi.input"], limit)
        request.max_content_length = limit + 1  # so that the byte past the limit reaches CappedInput


class CappedInput(io.RawIOBase):
    """A request body that raises 413 (``RequestEntityTooLarge``) when it turns out longer than ``limit``."""

    def __init__(self, stream, limit: int):
        super().__init__()
        self._stream = stream
        self._limit = limit
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(min(len(buffer), self._limit + 1 - self._read))
        self._read += len(data)
        if self._read > self._limit:
            raise RequestEntityTooLarge()
        buffer[: len(data)] = data
        return len(data)


def install(app: Flask) -> None:
    """Run ``enforce`` before every other ``before_request`` hook (the login check reads the body's form)."""
    app.before_request_funcs.setdefault(None, []).insert(0, enforce)
