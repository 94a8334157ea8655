"""The blob store interface and content-addressed keys."""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod

_KEY = re.compile(r"^[a-z0-9_-]+(/[A-Za-z0-9_.-]+)+$")


class BlobNotFound(KeyError):
    pass


class InvalidKey(ValueError):
    pass


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_key(kind: str, digest: str, suffix: str = "") -> str:
    """``kind/ab/cd/<digest><suffix>``: spreads files over directories, same bytes -> same key."""
    if not re.fullmatch(r"[0-9a-f]{16,128}", digest):
        raise InvalidKey(f"digest must be lowercase hex, got {digest!r}")
    return validate_key(f"{kind}/{digest[:2]}/{digest[2:4]}/{digest}{suffix}")


def validate_key(key: str) -> str:
    """Keys are relative, '/'-separated, with no '..', empty or hidden parts."""
    if not _KEY.match(key) or any(part in ("", ".", "..") or part.startswith(".") for part in key.split("/")):
        raise InvalidKey(f"invalid blob key {key!r}")
    return key


class BlobStore(ABC):
    """Bytes by key. Writes are atomic: a reader sees the old object, the new one, or none."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def get(self, key: str) -> bytes: ...

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def delete(self, key: str) -> None: ...

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Content-addressed writes skip existing keys; returns True when written."""
        if self.exists(key):
            return False
        self.put(key, data)
        return True
