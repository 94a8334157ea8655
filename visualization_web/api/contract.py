"""The API's contract at work: spectree checks each request against the operation's pydantic models and
makes the OpenAPI document from the same models (``document()``, served at /api/v1/openapi.json).

Why spectree: it decorates the existing views of the existing blueprint and app factory (flask-openapi3
wants its own app and blueprint classes and typed view arguments; apispec documents but does not
validate, and reads pydantic only through a third-party plugin), it speaks pydantic v2 and Flask 3, and
its request validation is the same code as its documentation.

``operation(...)`` decorates a view, below ``@require`` (the role is checked before the body is): the
response model of its success status, its error statuses, its query / JSON / multipart models. An invalid
request gets the shared error body naming the field at fault: 400 for a query parameter (as before), 422
for the body; a body that is not a JSON object is 400. A view returns its response model (the JSON is
written from it), so a response that breaks the contract fails on the server, in the tests.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from flask import Request
from pydantic import BaseModel, ValidationError

from visualization_web.api.schemas.shared import Error
from visualization_web.api.spectree_lean import Response, SpecTree
from visualization_web.errors import ApiError

FORM_MIMETYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
METHODS_WITH_BODY_ERRORS = (403, 413)  # CSRF for a session; the route's body limit (request_limits.py)

DESCRIPTION = (
    "Face labeling API. Authenticate with `Authorization: Bearer <token>` (an admin creates tokens: "
    "POST /api/v1/tokens or `persona-pipeline tokens create`), or with the web session's cookie plus the "
    '`X-CSRF-Token` header on requests that change something. Every error is `{"error": {"status", '
    '"message"}}`; an invalid query parameter is 400, an invalid body 422, naming the field.'
)

SPEC = SpecTree(
    "flask",
    mode="strict",  # only the operations below, never the pages
    title="persona-pipeline",
    version="1",
    description=DESCRIPTION,
    page_templates={},  # the docs page is ours (api/docs_page.py): local assets, behind login
    validation_error_status=422,
    validation_error_model=Error,
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
    security_schemes=[
        {"name": "bearer", "data": {"type": "http", "scheme": "bearer"}},
        {"name": "session", "data": {"type": "apiKey", "field_in": "cookie", "name": "pp_session"}},
    ],
    security=[{"bearer": []}, {"session": []}],
)

_optional_bodies: set[str] = set()  # operation ids whose JSON body may be left out


def _fields(error: ValidationError) -> str:
    found = []
    for item in error.errors(include_url=False, include_context=False, include_input=False):
        where = ".".join(str(part) for part in item["loc"]) or "body"
        found.append(f"'{where}': {item['msg']}")
    return "; ".join(found)[:1000]


def _has_body(request: Request) -> bool:
    return bool(request.content_length) or request.environ.get("wsgi.input_terminated", False)


def _before(query: type[BaseModel] | None, json: type[BaseModel] | None, optional_body: bool) -> Callable:
    def check(request: Request, _response: Any, error: ValidationError | None, _instance: Any, _adapter: Any) -> None:
        if error is not None and query is not None and error.title == query.__name__:
            raise ApiError(400, f"query parameter {_fields(error)}")
        not_an_object = json is not None and not isinstance(request.get_json(silent=True), dict)
        if not_an_object and request.mimetype not in FORM_MIMETYPES and (_has_body(request) or not optional_body):
            raise ApiError(400, "the request body must be a JSON object")
        if error is not None:
            raise ApiError(422, _fields(error))

    return check


def _after(_request: Request, _response: Any, error: ValidationError | None, _instance: Any, _adapter: Any) -> None:
    if error is not None:  # a view returned a body its model refuses: a bug, logged with a trace (errors.py)
        raise RuntimeError(f"the response breaks the API contract: {_fields(error)}")


def operation(response: type[BaseModel], *, operation_id: str, tag: str, status: int = 200,
              errors: Iterable[int] = (), query: type[BaseModel] | None = None,
              json: type[BaseModel] | None = None, form: type[BaseModel] | None = None,
              optional_body: bool = False, paths: dict[str, str] | None = None) -> Callable:  # fmt: skip
    """The decorator of one operation (see the module's docstring); ``paths`` describes path parameters."""
    codes = {400, 401, *errors}
    if json is not None or form is not None:
        codes.update(METHODS_WITH_BODY_ERRORS)
    responses = {f"HTTP_{status}": response} | {f"HTTP_{code}": Error for code in sorted(codes)}
    if optional_body:
        _optional_bodies.add(operation_id)
    return SPEC.validate(query=query, json=json, form=form, resp=Response(**responses), tags=[tag],
                         operation_id=operation_id, path_parameter_descriptions=paths,
                         before=_before(query, json, optional_body), after=_after)  # fmt: skip


_document: dict | None = None


def document() -> dict:
    """The OpenAPI 3.1 document (made once per process from the app's routes: call it in a request)."""
    global _document
    if _document is None:
        made = copy.deepcopy(SPEC.spec)
        for item in made["paths"].values():
            for op in item.values():
                if op.get("operationId") in _optional_bodies and "requestBody" in op:
                    op["requestBody"]["required"] = False
        _document = made
    return _document
