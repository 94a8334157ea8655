"""Web users (password hashes only) and API tokens for scripts (SHA-256 hashes only)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from werkzeug.security import check_password_hash, generate_password_hash

from common.db import Database

ROLES = ("viewer", "labeler", "admin")
_RANK = {role: rank for rank, role in enumerate(ROLES)}
_DUMMY_HASH = generate_password_hash("not-a-password", method="pbkdf2:sha256")


@dataclass(frozen=True)
class User:
    username: str
    role: str

    def can(self, role: str) -> bool:
        return _RANK.get(self.role, -1) >= _RANK[role]


@dataclass(frozen=True)
class Token:
    token_id: str
    username: str
    name: str
    created_at: datetime | None


class UserError(ValueError):
    pass


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    return role


def put(db: Database, username: str, password: str, role: str) -> User:
    username = (username or "").strip()
    if not username or len(username) > 64 or not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise UserError("username: 1-64 letters, digits, '.', '-' or '_'")
    if len(password or "") < 8:
        raise UserError("password must have at least 8 characters")
    db.execute(
        "INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
        (username, generate_password_hash(password, method="pbkdf2:sha256:260000"), _check_role(role),
         datetime.now(UTC)),
    )  # fmt: skip
    return User(username, role)


def get(db: Database, username: str) -> User | None:
    if not username:  # an empty partition key is an error in Cassandra, not a miss
        return None
    row = db.one("SELECT username, role FROM users WHERE username = ?", (username,))
    return User(row.username, row.role or "viewer") if row else None


def authenticate(db: Database, username: str, password: str) -> User | None:
    row = db.one("SELECT username, password_hash, role FROM users WHERE username = ?", (username or "",))
    if row is None or not row.password_hash:
        check_password_hash(_DUMMY_HASH, password or "")  # same time whether or not the user exists
        return None
    if not check_password_hash(row.password_hash, password or ""):
        return None
    return User(row.username, row.role or "viewer")


def password_matches(db: Database, username: str, password: str) -> bool:
    return authenticate(db, username, password) is not None


def ensure_admin(db: Database, username: str, password: str) -> None:
    """Create (or reset the password of) the admin named in the settings."""
    if not password_matches(db, username, password) or (get(db, username) or User("", "")).role != "admin":
        put(db, username, password, "admin")


# --- API tokens ---------------------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db: Database, username: str, name: str) -> tuple[Token, str]:
    """Returns the token record and the secret (shown once; only its hash is stored)."""
    if get(db, username) is None:
        raise UserError(f"no user {username!r}")
    name = (name or "").strip()[:80] or "token"
    token_id = secrets.token_hex(6)
    secret = f"pp_{token_id}_{secrets.token_urlsafe(32)}"
    now = datetime.now(UTC)
    digest = _hash(secret)
    db.execute(
        "INSERT INTO api_tokens (token_hash, token_id, username, name, created_at) VALUES (?, ?, ?, ?, ?)",
        (digest, token_id, username, name, now),
    )
    db.execute(
        "INSERT INTO api_tokens_by_user (username, token_id, token_hash, name, created_at) VALUES (?, ?, ?, ?, ?)",
        (username, token_id, digest, name, now),
    )
    return Token(token_id, username, name, now), secret


def user_for_token(db: Database, secret: str) -> User | None:
    row = db.one("SELECT username FROM api_tokens WHERE token_hash = ?", (_hash(secret or ""),))
    return get(db, row.username) if row else None


def list_tokens(db: Database, username: str) -> list[Token]:
    rows = db.execute("SELECT * FROM api_tokens_by_user WHERE username = ?", (username,))
    return [Token(r.token_id, r.username, r.name or "", r.created_at) for r in rows]


def revoke_token(db: Database, username: str, token_id: str) -> bool:
    row = db.one("SELECT token_hash FROM api_tokens_by_user WHERE username = ? AND token_id = ?", (username, token_id))
    if row is None:
        return False
    db.execute("DELETE FROM api_tokens WHERE token_hash = ?", (row.token_hash,))
    db.execute("DELETE FROM api_tokens_by_user WHERE username = ? AND token_id = ?", (username, token_id))
    return True
