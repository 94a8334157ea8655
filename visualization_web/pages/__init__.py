"""Server-rendered pages, one module per area; importing this package registers every page's routes on
the blueprint (``blueprint``)."""

from __future__ import annotations

from visualization_web.pages import (  # noqa: F401  (registers the routes)
    dashboard,
    events_page,
    images_page,
    ingest_page,
    models_page,
    personas_page,
    unknown_page,
)
from visualization_web.pages.blueprint import bp

__all__ = ["bp"]
