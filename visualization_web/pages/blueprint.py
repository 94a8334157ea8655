"""The blueprint of the server-rendered pages: the page modules add their routes to it.

It has its own module so that the page modules import it without importing the package that imports them.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("pages", __name__)
