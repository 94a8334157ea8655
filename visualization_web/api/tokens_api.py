"""API tokens for scripts (admin only); the secret is returned once, only its hash is stored.

Tokens expire (``PP_API_TOKEN_DAYS``, 90 by default; ``days`` may ask for less). An admin lists and revokes
any user's tokens: ``?username=NAME`` picks the user (default: the caller), ``?all=true`` lists everyone's.
"""

from __future__ import annotations

from flask import g

from common.db import get_database
from visualization_web import users
from visualization_web.api.blueprint import bp
from visualization_web.api.contract import operation
from visualization_web.api.schemas.tokens import (
    Me,
    NewToken,
    OwnerQuery,
    Revoked,
    Token,
    TokenList,
    TokenRequest,
    TokensQuery,
)
from visualization_web.auth import actor, require
from visualization_web.errors import ApiError


@bp.get("/me")
@operation(Me, operation_id="me", tag="tokens")
def me():
    """The caller: user name, role, and whether it came with an API token."""
    return Me(username=g.user.username, role=g.user.role, via_token=g.via_token)


@bp.get("/tokens")
@require("admin")
@operation(TokenList, operation_id="list_tokens", tag="tokens", errors=(403,), query=TokensQuery)
def tokens_index(query: TokensQuery):
    """API tokens with their expiry: the caller's, one user's (username) or everyone's (all)."""
    db = get_database()
    tokens = users.list_all_tokens(db) if query.all else users.list_tokens(db, query.username or actor())
    return TokenList(tokens=[Token(**t.as_dict()) for t in tokens])


@bp.post("/tokens")
@require("admin")
@operation(NewToken, operation_id="create_token", tag="tokens", status=201, json=TokenRequest)
def tokens_create(json: TokenRequest):
    """Create an API token; its secret is in the answer, and only there."""
    username = actor() if json.username is None else json.username
    try:
        token, secret = users.create_token(get_database(), username, json.name, days=json.days)
    except users.UserError as exc:
        raise ApiError(422, str(exc)) from exc
    return NewToken(**token.as_dict(), token=secret), 201


@bp.delete("/tokens/<token_id>")
@require("admin")
@operation(Revoked, operation_id="revoke_token", tag="tokens", errors=(403, 404), query=OwnerQuery)
def tokens_revoke(token_id: str, query: OwnerQuery):
    """Revoke a token of the caller, or of the user named by username."""
    if not users.revoke_token(get_database(), query.username or actor(), token_id[:32]):
        raise ApiError(404, f"no token {token_id[:32]}")
    return Revoked(revoked=token_id[:32])
