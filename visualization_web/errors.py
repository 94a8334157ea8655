"""Errors: JSON with a message and the right status for the API, a plain page for browsers; never a trace."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from common.labeling.actions import Conflict, LabelingError, NotFound
from common.repositories.personas import NameTaken, PersonaError, PersonaNotFound

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _respond(status: int, message: str):
    if wants_json():
        return jsonify({"error": {"status": status, "message": message}}), status
    return render_template("error.html", status=status, message=message), status


def status_for(exc: Exception) -> int:
    if isinstance(exc, NotFound | PersonaNotFound):
        return 404
    if isinstance(exc, Conflict | NameTaken):
        return 409
    return 422


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return _respond(exc.status, exc.message)

    @app.errorhandler(PersonaError)
    @app.errorhandler(LabelingError)
    def _domain_error(exc: Exception):
        return _respond(status_for(exc), str(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if exc.code == 413:
            return _respond(413, "the request is larger than the upload limit")
        return _respond(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http_error(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _respond(500, InternalServerError.description)
