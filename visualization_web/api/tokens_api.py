"""API tokens for scripts (admin only); the secret is returned once, only its hash is stored.

Tokens expire (``PP_API_TOKEN_DAYS``, 90 by default; ``days`` may ask for less). An admin lists and revokes
any user's tokens: ``?username=NAME`` picks the user (default: the caller), ``?all=true`` lists everyone's.
"""

from __future__ import annotations

from flask import g, jsonify, request

from common.db import get_database
from visualization_web import users
from visualization_web.api.blueprint import bp
from visualization_web.api.fields import body, field
from visualization_web.auth import actor, require
from visualization_web.errors import ApiError


def _owner() -> str:
    return (request.args.get("username") or actor())[:64]


@bp.get("/me")
def me():
    return jsonify({"username": g.user.username, "role": g.user.role, "via_token": g.via_token})


@bp.get("/tokens")
@require("admin")
def tokens_index():
    db = get_database()
    every = request.args.get("all", "").lower() in ("1", "true", "yes")
    tokens = users.list_all_tokens(db) if every else users.list_tokens(db, _owner())
    return jsonify({"tokens": [t.as_dict() for t in tokens]})


@bp.post("/tokens")
@require("admin")
def tokens_create():
    data = body()
    username = field(data, "username", required=False, default=actor())
    days = field(data, "days", kind=int, required=False, default=None)
    try:
        token, secret = users.create_token(get_database(), username, field(data, "name", required=False, default=""),
                                           days=days)  # fmt: skip
    except users.UserError as exc:
        raise ApiError(422, str(exc)) from exc
    return jsonify(token.as_dict() | {"token": secret}), 201


@bp.delete("/tokens/<token_id>")
@require("admin")
def tokens_revoke(token_id: str):
    if not users.revoke_token(get_database(), _owner(), token_id[:32]):
        raise ApiError(404, f"no token {token_id[:32]}")
    return jsonify({"revoked": token_id[:32]})
