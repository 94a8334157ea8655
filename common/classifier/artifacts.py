"""Model artifacts: joblib bytes in the blob store, content-addressed, signed; loaded only after every check.

joblib is pickle, and unpickling runs code. Before ``joblib.load`` ever sees bytes:

1. the key must be exactly ``models/ab/cd/<sha256>.joblib`` for the registry's SHA-256 (a row cannot
   point a worker at another blob, such as an upload);
2. the bytes must hash to that SHA-256;
3. their HMAC-SHA256 (:mod:`common.classifier.signing`, a key that is not stored in Cassandra) must
   equal the registry's signature. Key, checksum and signature all sit in one row, but only the
   signature needs the secret: a database write alone no longer yields code execution.
"""

from __future__ import annotations

import hmac
import io
import re

import joblib

from common.classifier import signing
from common.classifier.model import OpenSetClassifier
from common.storage import BlobStore, content_key, sha256_hex

_SHA256 = re.compile(r"[0-9a-f]{64}")


class ArtifactIntegrityError(ValueError):
    """The artifact's key, bytes or signature do not match the registry's: refused."""


def dump_model(model: OpenSetClassifier) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    return buffer.getvalue()


def artifact_key(sha256: str) -> str:
    """The one key an artifact with this SHA-256 may have."""
    if not _SHA256.fullmatch(sha256 or ""):
        raise ArtifactIntegrityError(f"artifact checksum {sha256!r} is not a SHA-256: refusing to load")
    return content_key("models", sha256, ".joblib")


def save_artifact(store: BlobStore, data: bytes) -> tuple[str, str]:
    """Store the bytes under ``models/ab/cd/<sha256>.joblib``; returns (key, sha256). Sign with :func:`sign`."""
    digest = sha256_hex(data)
    key = artifact_key(digest)
    store.put_if_absent(key, data)
    return key, digest


def sign(data: bytes) -> str:
    """The signature to record with the version (``model_versions.artifact_hmac``)."""
    return signing.sign(data)


def check_key(key: str, expected_sha256: str) -> None:
    if key != artifact_key(expected_sha256):
        raise ArtifactIntegrityError(f"artifact key {key!r} is not models/…/<sha256>.joblib of its checksum: "
                                     "refusing to load")  # fmt: skip


def check_bytes(data: bytes, expected_sha256: str, signature: str) -> None:
    """Raise unless the bytes hash to ``expected_sha256`` and carry a valid signature (nothing is unpickled)."""
    actual = sha256_hex(data)
    if not expected_sha256 or not hmac.compare_digest(actual, expected_sha256):
        raise ArtifactIntegrityError(f"artifact checksum {actual[:12]}… does not match the registry's "
                                     f"{(expected_sha256 or 'none')[:12]}…: refusing to load")  # fmt: skip
    if not signature:
        raise ArtifactIntegrityError("artifact is not signed (a version from before signing: "
                                     "`persona-pipeline models resign`, or retrain): refusing to load")  # fmt: skip
    if not signing.verify(data, signature):
        raise ArtifactIntegrityError("artifact signature does not verify with PP_ARTIFACT_HMAC_KEY: refusing to load")


def load_verified(data: bytes, expected_sha256: str, signature: str = "") -> OpenSetClassifier:
    """Unpickle only bytes whose SHA-256 equals the registry's and whose HMAC verifies."""
    check_bytes(data, expected_sha256, signature)
    model = joblib.load(io.BytesIO(data))
    if not isinstance(model, OpenSetClassifier):
        raise ArtifactIntegrityError(f"artifact holds {type(model).__name__}, not an OpenSetClassifier")
    return model


def load_artifact(store: BlobStore, key: str, expected_sha256: str, signature: str = "") -> OpenSetClassifier:
    """Check the key before reading, the bytes and signature before unpickling."""
    check_key(key, expected_sha256)
    return load_verified(store.get(key), expected_sha256, signature)
