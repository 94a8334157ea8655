"""Model artifacts: joblib bytes in the blob store, content-addressed; loaded only after the SHA-256 matches.

joblib is pickle, and unpickling runs code: bytes are hashed and compared with
the registry's checksum *before* ``joblib.load`` ever sees them.
"""

from __future__ import annotations

import hmac
import io

import joblib

from common.classifier.model import OpenSetClassifier
from common.storage import BlobStore, content_key, sha256_hex


class ArtifactIntegrityError(ValueError):
    """The artifact's bytes do not match the checksum recorded in the registry: refused."""


def dump_model(model: OpenSetClassifier) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    return buffer.getvalue()


def save_artifact(store: BlobStore, data: bytes) -> tuple[str, str]:
    """Store the bytes under ``models/…/<sha256>.joblib``; returns (key, sha256)."""
    digest = sha256_hex(data)
    key = content_key("models", digest, ".joblib")
    store.put_if_absent(key, data)
    return key, digest


def load_verified(data: bytes, expected_sha256: str) -> OpenSetClassifier:
    """Unpickle only bytes whose SHA-256 equals the registry's."""
    actual = sha256_hex(data)
    if not expected_sha256 or not hmac.compare_digest(actual, expected_sha256):
        raise ArtifactIntegrityError(f"artifact checksum {actual[:12]}… does not match the registry's "
                                     f"{(expected_sha256 or 'none')[:12]}…: refusing to load")  # fmt: skip
    model = joblib.load(io.BytesIO(data))
    if not isinstance(model, OpenSetClassifier):
        raise ArtifactIntegrityError(f"artifact holds {type(model).__name__}, not an OpenSetClassifier")
    return model


def load_artifact(store: BlobStore, key: str, expected_sha256: str) -> OpenSetClassifier:
    return load_verified(store.get(key), expected_sha256)
