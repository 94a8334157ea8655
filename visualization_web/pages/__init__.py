"""Server-rendered pages, one module per area."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("pages", __name__)

from visualization_web.pages import (  # noqa: E402, F401  (registers the routes)
    dashboard,
    events_page,
    images_page,
    ingest_page,
    models_page,
    personas_page,
    unknown_page,
)
