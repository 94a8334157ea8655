"""API tokens and the caller."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from visualization_web.api.schemas.shared import ApiModel, IsoTime, RequestModel, Text, WholeNumber, optional


class Me(ApiModel):
    username: str
    role: Literal["viewer", "labeler", "admin"]
    via_token: bool


class Token(ApiModel):
    token_id: str
    username: str
    name: str
    created_at: IsoTime | None
    expires_at: IsoTime | None


class NewToken(Token):
    token: str = Field(description="the secret: send it as 'Authorization: Bearer <token>'; shown only once")


class TokenList(ApiModel):
    tokens: list[Token]


class Revoked(ApiModel):
    revoked: str = Field(description="the revoked token's id")


class TokenRequest(RequestModel):
    name: Text = Field("", description="what the token is for")
    username: Text = optional(description="whose token (default: the caller)")
    days: WholeNumber = optional(ge=1, le=3650, description="days it lasts (default and most: PP_API_TOKEN_DAYS)")


class TokensQuery(RequestModel):
    username: str = optional(max_length=64, description="whose tokens (default: the caller)")
    all: bool = Field(False, description="everyone's tokens")


class OwnerQuery(RequestModel):
    username: str = optional(max_length=64, description="whose token (default: the caller)")
