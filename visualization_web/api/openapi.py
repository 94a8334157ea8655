"""GET /openapi.json: the OpenAPI 3.0 document of this API."""

from __future__ import annotations

from flask import jsonify

from visualization_web.api.blueprint import bp

_ERR = {"$ref": "#/components/responses/Error"}
_OBJ = {"type": "object", "additionalProperties": True}


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def _op(summary: str, ok: str = "200", body: dict | None = None, params: list | None = None,
        errors: tuple[str, ...] = ("401", "403", "422"), multipart: dict | None = None) -> dict:  # fmt: skip
    op: dict = {"summary": summary, "responses": {ok: {"description": "OK", **_json(_OBJ)}}}
    for code in ("400", *errors):
        op["responses"][code] = _ERR
    if body is not None or multipart is not None:
        op["responses"]["413"] = _ERR  # a body over the route's limit (visualization_web/request_limits.py)
        content: dict = {}
        if body is not None:
            content["application/json"] = {"schema": body}
        if multipart is not None:
            content["multipart/form-data"] = {"schema": multipart}
        op["requestBody"] = {"required": True, "content": content}
    if params:
        op["parameters"] = params
    return op


def _path(name: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


def _query(name: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _page(high: int = 500) -> list:
    return [_query("limit", {"type": "integer", "minimum": 1, "maximum": high})]


UUID = {"type": "string", "format": "uuid"}
# event ids are time-based (version 1) UUIDs
EVENT_ID = {
    "type": "string",
    "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-1[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$",
}
VERSION = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
NAME = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "maxLength": 80}}}
LABEL = {
    "type": "object",
    "required": ["persona_id", "verdict"],
    "anyOf": [{"required": ["face_id"]}, {"required": ["face_ids"]}],
    "properties": {
        "face_id": {"type": "string"},
        "face_ids": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 1000},
        "persona_id": UUID,
        "verdict": {"type": "string", "enum": ["confirm", "reject"]},
    },
}
FILES = {
    "type": "object",
    "required": ["files"],
    "properties": {"files": {"type": "array", "minItems": 1, "items": {"type": "string", "format": "binary"}}},
}
IMAGE = {"type": "object", "required": ["image"], "properties": {"image": {"type": "string", "format": "binary"}}}

PATHS = {
    "/me": {"get": _op("The caller", errors=("401",))},
    "/personas": {"get": _op("List personas with confirmed counts", errors=("401",)),
                  "post": _op("Create a persona", "201", NAME, errors=("401", "403", "409", "422"))},
    "/personas/{persona_id}": {
        "parameters": [_path("persona_id", UUID)],
        "get": _op("One persona", errors=("401", "404")),
        "patch": _op("Rename", body=NAME, errors=("401", "403", "404", "409", "422")),
        "delete": _op("Delete (erase_faces=true also erases its images)",
                      params=[_query("erase_faces", {"type": "boolean"})], errors=("401", "403", "404")),
    },
    "/personas/{persona_id}/merge": {
        "parameters": [_path("persona_id", UUID)],
        "post": _op("Merge this persona into another (undoable)",
                    body={"type": "object", "required": ["into"], "properties": {"into": UUID}},
                    errors=("401", "403", "404", "409", "422")),
    },
    "/personas/{persona_id}/faces": {
        "parameters": [_path("persona_id", UUID)],
        "get": _op("Confirmed, rejected and predicted faces, paged: only the first 10,000 faces of each list "
                   "((page + 1) * limit <= 10000; a deeper page is 422)",
                   params=[*_page(), _query("page", {"type": "integer", "minimum": 0, "maximum": 10000}),
                           _query("order", {"type": "string", "enum": ["uncertain", "confident"]})],
                   errors=("401", "404", "422")),
    },
    "/labels": {"post": _op("Confirm or reject one face (face_id) or many (face_ids) for a persona", "201", LABEL,
                            errors=("401", "403", "404", "409", "413", "422"))},
    "/undo": {"post": _op("Undo an action (event_id), or the caller's last one",
                          body={"type": "object", "properties": {"event_id": EVENT_ID}},
                          errors=("401", "403", "404", "409"))},
    "/faces/{face_id}": {"parameters": [_path("face_id")],
                         "get": _op("A face with its labels and current prediction", errors=("401", "404"))},
    "/images": {"get": _op("Newest images with their source names",
                           params=[*_page(), _query("before", {"type": "string", "format": "date-time"})],
                           errors=("401",))},
    "/images/{image_id}": {"parameters": [_path("image_id")],
                           "get": _op("An image with its faces", errors=("401", "404"))},
    "/ingest": {
        "get": _op("Recent ingest jobs with progress (counters) and some of their rejected files "
                   "(at most 200 a job, 4000 / limit for longer lists)", params=_page(200), errors=("401",)),
        "post": _op("Start an ingest from a path or uploaded files", "202",
                    body={"type": "object", "required": ["source"],
                          "properties": {"source": {"type": "string"}, "options": _OBJ}},
                    multipart=FILES, errors=("401", "403", "413", "422")),
    },
    "/ingest/{job_id}": {"parameters": [_path("job_id")],
                         "get": _op("Progress of an ingest job, up to 200 rejected files with reasons",
                                    errors=("401", "404"))},
    "/models": {"get": _op("Model versions, the active one, promotion history, and the active version's full "
                           "reclassification pass (reclassify_pass: version, pass_id, shards_total, shards_done, "
                           "planning, faces_predicted, started_at, finished_at; null when none)", errors=("401",))},
    "/models/{version}": {"parameters": [_path("version", VERSION)],
                          "get": _op("One model version with metrics", errors=("401", "404"))},
    "/models/{version}/promote": {
        "parameters": [_path("version", VERSION)],
        "post": _op("Promote a version", errors=("401", "403", "404", "409")),
    },
    "/models/rollback": {"post": _op("Roll back to the previous version", errors=("401", "403", "409"))},
    "/models/retrain": {"post": _op("Retrain now", "202", errors=("401", "403"))},
    "/predict": {"post": _op("Faces in an image with persona, score and model version (nothing stored)",
                             multipart=IMAGE, errors=("401", "413", "422"))},
    "/events": {"get": _op("The audit log, newest first",
                           params=[*_page(), _query("kind", {"type": "string"}), _query("actor", {"type": "string"}),
                                   _query("before", EVENT_ID)], errors=("401",))},
    "/tokens": {"get": _op("API tokens with their expiry: the caller's, one user's (username) or everyone's (all)",
                           params=[_query("username", {"type": "string", "maxLength": 64}),
                                   _query("all", {"type": "boolean"})], errors=("401", "403")),
                "post": _op("Create an API token (returned once); it expires after days (default and most: "
                            "PP_API_TOKEN_DAYS)", "201",
                            {"type": "object",
                             "properties": {"name": {"type": "string"}, "username": {"type": "string"},
                                            "days": {"type": "integer", "minimum": 1, "maximum": 3650}}},
                            errors=("401", "403", "422"))},
    "/tokens/{token_id}": {"parameters": [_path("token_id"), _query("username", {"type": "string", "maxLength": 64})],
                           "delete": _op("Revoke a token of the caller or of the user named by username",
                                         errors=("401", "403", "404"))},
}  # fmt: skip

DOCUMENT = {
    "openapi": "3.0.3",
    "info": {
        "title": "persona-pipeline",
        "version": "1",
        "description": "Face labeling API. Authenticate with `Authorization: Bearer <token>` or a session "
        "cookie plus the `X-CSRF-Token` header on mutations.",
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearer": []}, {"session": []}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "pp_session"},
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["status", "message"],
                        "properties": {"status": {"type": "integer"}, "message": {"type": "string"}},
                    }
                },
            },
        },
        "responses": {"Error": {"description": "An error", **_json({"$ref": "#/components/schemas/Error"})}},
    },
}


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(DOCUMENT)
