"""The JSON API under /api/v1 (one module per resource); errors are JSON (see errors.py).

``blueprint`` holds the blueprint, ``schemas`` the request and response models, ``contract`` the validation
and the OpenAPI document made from them; importing this package registers every resource's routes on the
blueprint. ``docs_bp`` is the browsable API page (/api-docs).
"""

from __future__ import annotations

from visualization_web.api import (  # noqa: F401  (registers the routes)
    events_api,
    images_api,
    ingest_api,
    labels_api,
    models_api,
    openapi,
    personas_api,
    predict_api,
    tokens_api,
)
from visualization_web.api.blueprint import bp
from visualization_web.api.docs_page import bp as docs_bp

__all__ = ["bp", "docs_bp"]
