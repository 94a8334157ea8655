"""Deterministic ids: the same content always yields the same id (idempotent tasks)."""

from __future__ import annotations

import hashlib
import uuid
import zlib

UNKNOWN_PERSONA = uuid.UUID(int=0)


def face_id(image_id: str, box: tuple[int, int, int, int]) -> str:
    left, top, width, height = box
    return hashlib.sha256(f"{image_id}:{left},{top},{width},{height}".encode()).hexdigest()[:32]


def bucket_of(key: str, buckets: int) -> int:
    return zlib.crc32(key.encode()) % buckets


def job_id_for(source: str, nonce: str) -> str:
    return hashlib.sha256(f"{source}\0{nonce}".encode()).hexdigest()[:24]
