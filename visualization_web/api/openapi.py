"""GET /openapi.json: the OpenAPI 3.1 document of this API, made by spectree from the operations' models
(``contract.document``); nothing in it is written by hand."""

from __future__ import annotations

from flask import current_app

from visualization_web.api.blueprint import bp
from visualization_web.api.contract import document


@bp.get("/openapi.json")
def openapi_document():
    return current_app.json.response(document())
