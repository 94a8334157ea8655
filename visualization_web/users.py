"""Web users (password hashes only) and API tokens for scripts (SHA-256 hashes only).

Every user row carries a ``session_epoch``: a random value each login copies into its session cookie. A
password or role change and a logout give the user a new epoch, so every session carrying the old one is
refused (``visualization_web.auth``). Tokens carry an ``expires_at`` (``PP_API_TOKEN_DAYS``) and are also
written with a Cassandra TTL, so expired tokens disappear from the tables by themselves. The rows are read
and written by :mod:`common.repositories.users`.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from werkzeug.security import check_password_hash, generate_password_hash

from common.db import Database
from common.infra.settings import get_settings
from common.repositories import users as users_repo

ROLES = ("viewer", "labeler", "admin")
_RANK = {role: rank for rank, role in enumerate(ROLES)}
# One hashing method for real users and for the stand-in hash a missing user is checked against: a login
# for a name that does not exist costs what a wrong password for an existing name costs.
PASSWORD_METHOD = "pbkdf2:sha256:260000"
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16), method=PASSWORD_METHOD)
MAX_LISTED_TOKENS = 10_000


@dataclass(frozen=True)
class User:
    username: str
    role: str
    session_epoch: str = field(default="", compare=False)

    def can(self, role: str) -> bool:
        return _RANK.get(self.role, -1) >= _RANK[role]


@dataclass(frozen=True)
class Token:
    token_id: str
    username: str
    name: str
    created_at: datetime | None
    expires_at: datetime | None = None

    def as_dict(self) -> dict:
        return {"token_id": self.token_id, "username": self.username, "name": self.name,
                "created_at": _iso(self.created_at), "expires_at": _iso(self.expires_at)}  # fmt: skip


class UserError(ValueError):
    pass


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    return role


def new_epoch() -> str:
    return secrets.token_hex(8)


def put(db: Database, username: str, password: str, role: str) -> User:
    """Create a user or replace its password and role; either way its existing sessions end."""
    username = (username or "").strip()
    if not username or len(username) > 64 or not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise UserError("username: 1-64 letters, digits, '.', '-' or '_'")
    if len(password or "") < 8:
        raise UserError("password must have at least 8 characters")
    epoch = new_epoch()
    password_hash = generate_password_hash(password, method=PASSWORD_METHOD)
    users_repo.put_user(db, username, password_hash, _check_role(role), datetime.now(UTC), epoch)
    return User(username, role, epoch)


def get(db: Database, username: str) -> User | None:
    if not username:  # an empty partition key is an error in Cassandra, not a miss
        return None
    row = users_repo.get_user(db, username)
    return User(row.username, row.role or "viewer", row.session_epoch) if row else None


def renew_session_epoch(db: Database, username: str) -> str:
    """A new epoch for an existing user (logout): no cookie issued before, that one included, is accepted
    again. Returns the new epoch."""
    epoch = new_epoch()
    if get(db, username) is not None:  # writing the epoch of a missing user would create it
        users_repo.set_session_epoch(db, username, epoch)
    return epoch


def authenticate(db: Database, username: str, password: str) -> User | None:
    row = None
    if username:
        row = users_repo.login_row(db, username)
    if row is None or not row.password_hash:
        check_password_hash(_DUMMY_HASH, password or "")  # same time whether or not the user exists
        return None
    if not check_password_hash(row.password_hash, password or ""):
        return None
    return User(row.username, row.role or "viewer", row.session_epoch)


def password_matches(db: Database, username: str, password: str) -> bool:
    return authenticate(db, username, password) is not None


def has_users(db: Database) -> bool:
    return users_repo.any_user(db)


def ensure_admin(db: Database, username: str, password: str) -> bool:
    """Create the admin named in the settings, only while there is no user at all (the first start).

    Never resets anything afterwards: a password changed with ``persona-pipeline users add`` stays changed.
    True when it created the admin."""
    if has_users(db):
        return False
    put(db, username, password, "admin")
    return True


# --- API tokens ---------------------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db: Database, username: str, name: str, days: int | None = None) -> tuple[Token, str]:
    """Returns the token record and the secret (shown once; only its hash is stored). It expires after
    ``days`` (at most, and by default, ``PP_API_TOKEN_DAYS``)."""
    if get(db, username) is None:
        raise UserError(f"no user {username!r}")
    limit = get_settings().api_token_days
    if days is not None and not (isinstance(days, int) and 1 <= days <= limit):
        raise UserError(f"days must be a whole number from 1 to {limit}")
    days = days or limit
    name = (name or "").strip()[:80] or "token"
    token_id = secrets.token_hex(6)
    secret = f"pp_{token_id}_{secrets.token_urlsafe(32)}"
    now = datetime.now(UTC)
    expires = now + timedelta(days=days)
    ttl = days * 86400
    digest = _hash(secret)
    users_repo.put_token(db, users_repo.TokenRow(digest, token_id, username, name, now, expires), ttl)
    return Token(token_id, username, name, now, expires), secret


def _expiry(created_at: datetime | None, expires_at: datetime | None) -> datetime | None:
    """A row's expiry; rows from before migration 0008 expire ``PP_API_TOKEN_DAYS`` after creation."""
    moment = expires_at or (created_at + timedelta(days=get_settings().api_token_days) if created_at else None)
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def user_for_token(db: Database, secret: str) -> User | None:
    row = users_repo.token_by_hash(db, _hash(secret or ""))
    if row is None:
        return None
    expiry = _expiry(row.created_at, row.expires_at)
    if expiry is None or expiry <= datetime.now(UTC):
        return None
    return get(db, row.username)


def _token(row: users_repo.TokenRow) -> Token:
    return Token(row.token_id, row.username, row.name, row.created_at, _expiry(row.created_at, row.expires_at))


def list_tokens(db: Database, username: str) -> list[Token]:
    return [_token(r) for r in users_repo.tokens_of_user(db, username)]


def list_all_tokens(db: Database) -> list[Token]:
    """Every user's tokens (admins). Tokens are few (one partition per user, expired ones vanish by TTL)."""
    rows = users_repo.all_tokens(db, MAX_LISTED_TOKENS)
    return sorted((_token(r) for r in rows), key=lambda t: (t.username, t.token_id))


def revoke_token(db: Database, username: str, token_id: str) -> bool:
    return users_repo.delete_token(db, username, token_id)
