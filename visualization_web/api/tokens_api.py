"""API tokens for scripts (admin only); the secret is returned once, only its hash is stored."""

from __future__ import annotations

from flask import jsonify

from common.db import get_database
from visualization_web import users
from visualization_web.api import body, bp, field
from visualization_web.auth import actor, require
from visualization_web.errors import ApiError


@bp.get("/me")
def me():
    from flask import g

    return jsonify({"username": g.user.username, "role": g.user.role, "via_token": g.via_token})


@bp.get("/tokens")
@require("admin")
def tokens_index():
    return jsonify({"tokens": [{"token_id": t.token_id, "username": t.username, "name": t.name,
                                "created_at": t.created_at.isoformat() if t.created_at else None}
                               for t in users.list_tokens(get_database(), actor())]})  # fmt: skip


@bp.post("/tokens")
@require("admin")
def tokens_create():
    data = body()
    username = field(data, "username", required=False, default=actor())
    try:
        token, secret = users.create_token(get_database(), username, field(data, "name", required=False, default=""))
    except users.UserError as exc:
        raise ApiError(422, str(exc)) from exc
    return jsonify({"token_id": token.token_id, "username": token.username, "name": token.name,
                    "token": secret}), 201  # fmt: skip


@bp.delete("/tokens/<token_id>")
@require("admin")
def tokens_revoke(token_id: str):
    if not users.revoke_token(get_database(), actor(), token_id[:32]):
        raise ApiError(404, f"no token {token_id[:32]}")
    return jsonify({"revoked": token_id})
