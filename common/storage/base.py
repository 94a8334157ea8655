"""The blob store interface and content-addressed keys."""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from typing import BinaryIO

CHUNK_BYTES = 1024 * 1024

_KEY = re.compile(r"^[a-z0-9_-]+(/[A-Za-z0-9_.-]+)+$")


class BlobNotFound(KeyError):
    pass


class InvalidKey(ValueError):
    pass


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def copy_exactly(stream: BinaryIO, out: BinaryIO, size: int) -> None:
    """Copy ``size`` bytes from ``stream`` to ``out`` in chunks; a shorter stream is an error."""
    left = size
    while left > 0:
        chunk = stream.read(min(CHUNK_BYTES, left))
        if not chunk:
            raise ValueError(f"stream ended {left} bytes early")
        out.write(chunk)
        left -= len(chunk)


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

    def put_stream(self, key: str, stream: BinaryIO, size: int) -> None:
        """Write ``size`` bytes read from ``stream``. This default reads them whole; the local and Azure Files
        stores override it to write in chunks, never holding the object in memory."""
        self.put(key, stream.read(size))

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Content-addressed writes skip existing keys; returns True when written."""
        if self.exists(key):
            return False
        self.put(key, data)
        return True
