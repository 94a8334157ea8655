"""Web users and API tokens: the ``users``, ``api_tokens`` and ``api_tokens_by_user`` tables.

Storage only: passwords, roles, session epochs and token expiry are the rules of
:mod:`visualization_web.users`. A token is written to both token tables, and removed from both, in one
function, so the copy by user never outlives the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from common.db import Database


@dataclass(frozen=True)
class UserRow:
    username: str
    role: str
    session_epoch: str
    password_hash: str = ""  # read only by ``login_row``


@dataclass(frozen=True)
class TokenRow:
    token_hash: str
    token_id: str
    username: str
    name: str
    created_at: datetime | None
    expires_at: datetime | None  # None: a row from before migration 0008


# ------------------------------------------------------------------ users
def put_user(db: Database, username: str, password_hash: str, role: str, created_at: datetime,
             session_epoch: str) -> None:  # fmt: skip
    """Create the user or replace its row."""
    db.execute(
        "INSERT INTO users (username, password_hash, role, created_at, session_epoch) VALUES (?, ?, ?, ?, ?)",
        (username, password_hash, role, created_at, session_epoch),
    )


def get_user(db: Database, username: str) -> UserRow | None:
    """The user without its password hash; ``username`` must not be empty."""
    row = db.one("SELECT username, role, session_epoch FROM users WHERE username = ?", (username,))
    return UserRow(row.username, row.role or "", row.session_epoch or "") if row else None


def login_row(db: Database, username: str) -> UserRow | None:
    """The user with its password hash (for checking a password); ``username`` must not be empty."""
    row = db.one("SELECT username, password_hash, role, session_epoch FROM users WHERE username = ?", (username,))
    if row is None:
        return None
    return UserRow(row.username, row.role or "", row.session_epoch or "", row.password_hash or "")


def set_session_epoch(db: Database, username: str, epoch: str) -> None:
    """An ``UPDATE``: on a missing user it would create a row, so check that the user exists first."""
    db.execute("UPDATE users SET session_epoch = ? WHERE username = ?", (epoch, username))


def any_user(db: Database) -> bool:
    return db.one("SELECT username FROM users LIMIT 1") is not None


# ------------------------------------------------------------------ api_tokens, api_tokens_by_user
def put_token(db: Database, token: TokenRow, ttl_seconds: int) -> None:
    """The token in both tables, each row removed by Cassandra after ``ttl_seconds``."""
    db.execute(
        "INSERT INTO api_tokens (token_hash, token_id, username, name, created_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?, ?) USING TTL ?",
        (token.token_hash, token.token_id, token.username, token.name, token.created_at, token.expires_at,
         ttl_seconds),
    )  # fmt: skip
    db.execute(
        "INSERT INTO api_tokens_by_user (username, token_id, token_hash, name, created_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?, ?) USING TTL ?",
        (token.username, token.token_id, token.token_hash, token.name, token.created_at, token.expires_at,
         ttl_seconds),
    )  # fmt: skip


def token_by_hash(db: Database, token_hash: str) -> TokenRow | None:
    """The token whose secret hashes to ``token_hash`` (its id and name are not read)."""
    row = db.one("SELECT username, created_at, expires_at FROM api_tokens WHERE token_hash = ?", (token_hash,))
    return TokenRow(token_hash, "", row.username, "", row.created_at, row.expires_at) if row else None


def _token(row) -> TokenRow:
    return TokenRow(row.token_hash, row.token_id, row.username, row.name or "", row.created_at, row.expires_at)


def tokens_of_user(db: Database, username: str) -> list[TokenRow]:
    return [_token(r) for r in db.execute("SELECT * FROM api_tokens_by_user WHERE username = ?", (username,))]


def all_tokens(db: Database, limit: int) -> list[TokenRow]:
    """Every user's tokens, at most ``limit``."""
    return [_token(r) for r in db.execute("SELECT * FROM api_tokens_by_user LIMIT ?", (limit,))]


def delete_token(db: Database, username: str, token_id: str) -> bool:
    """Remove the token from both tables; False when the user has no such token."""
    row = db.one("SELECT token_hash FROM api_tokens_by_user WHERE username = ? AND token_id = ?", (username, token_id))
    if row is None:
        return False
    db.execute("DELETE FROM api_tokens WHERE token_hash = ?", (row.token_hash,))
    db.execute("DELETE FROM api_tokens_by_user WHERE username = ? AND token_id = ?", (username, token_id))
    return True
