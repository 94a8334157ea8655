"""The API's browsable documentation (GET /api-docs): Swagger UI over /api/v1/openapi.json, behind login like
every page, its files served from the ``offapi`` package (Swagger UI's release, packaged for offline use by
spectree's author): no CDN. Its start-up script is a file of ours (``static/api_docs.js``): the
Content-Security-Policy allows no inline script. "Try it out" works with the page's session and CSRF token.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util

from flask import Blueprint, Response, abort, render_template, send_from_directory, url_for

bp = Blueprint("api_docs", __name__)

# the names the page asks for -> offapi's files (swagger-ui-dist's swagger-ui.css and swagger-ui-bundle.js)
ASSETS = {"swagger-ui.css": "swagger_style.css", "swagger-ui-bundle.js": "swagger_bundle.js"}
ASSET_MAX_AGE = 7 * 86400  # the URL names offapi's version, so a new release is a new URL


@functools.cache
def assets_folder() -> str:
    """offapi's folder, found without importing it (its ``__init__`` reads all its files into memory)."""
    found = importlib.util.find_spec("offapi")
    if found is None or not found.submodule_search_locations:
        raise RuntimeError("the offapi package is missing: run make install")
    return next(iter(found.submodule_search_locations))


@functools.cache
def assets_version() -> str:
    return importlib.metadata.version("offapi")


@bp.get("/api-docs")
def page() -> str:
    assets = {name: url_for("api_docs.asset", version=assets_version(), name=name) for name in ASSETS}
    return render_template("api_docs.html", spec_url=url_for("api.openapi_document"), assets=assets)


@bp.get("/api-docs/assets/<version>/<name>")
def asset(version: str, name: str) -> Response:
    if name not in ASSETS or version != assets_version():
        abort(404)
    response = send_from_directory(assets_folder(), ASSETS[name], max_age=ASSET_MAX_AGE)
    response.headers["Cache-Control"] = f"private, max-age={ASSET_MAX_AGE}, immutable"
    return response
