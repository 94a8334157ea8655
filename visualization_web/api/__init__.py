"""The JSON API under /api/v1 (one module per resource); errors are JSON (see errors.py).

``blueprint`` holds the blueprint, ``fields`` the request parsing the resources share; importing this
package registers every resource's routes on the blueprint.
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

__all__ = ["bp"]
