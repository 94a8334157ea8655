"""The blueprint of the JSON API under /api/v1: the route modules add their routes to it.

It has its own module so that the route modules import it without importing the package that imports them.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__)
