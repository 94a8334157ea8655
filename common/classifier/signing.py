"""The secret that signs model artifacts, kept out of Cassandra: an HMAC-SHA256 over the artifact bytes.

Key and checksum of an artifact come from the ``model_versions`` row, so anyone who can write that
row could point workers at bytes of their choosing; joblib is pickle, so that would be code
execution in every worker. The HMAC key comes from ``PP_ARTIFACT_HMAC_KEY`` (environment / secret
store). Only a single-machine setup (local blob store and Apache Cassandra, as ``make run`` and the
tests) may go without it: a random key is generated once into ``STATE_DIR/secrets/artifact-hmac.key``
(mode 0600), shared by every process of that machine. Anywhere else a missing key is an error, and
every artifact is refused rather than loaded unsigned.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from common.infra.settings import CassandraFlavor, Settings, StorageBackend, get_settings

MIN_KEY_CHARS = 32
KEY_FILE = Path("secrets") / "artifact-hmac.key"
_CONTEXT = b"persona-pipeline model artifact v1\x00"


class SigningKeyMissing(ValueError):
    """No artifact signing key: PP_ARTIFACT_HMAC_KEY is unset outside a single-machine setup, or too short."""


def _generated_key(state_dir: Path) -> bytes:
    path = state_dir / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(temp, path)  # never replaces a key another process wrote first
        except FileExistsError:
            pass
        finally:
            temp.unlink()
    key = path.read_text().strip()
    if len(key) < MIN_KEY_CHARS:
        raise SigningKeyMissing(f"{path} holds no usable artifact signing key")
    return key.encode()


def signing_key(settings: Settings | None = None) -> bytes:
    settings = settings or get_settings()
    if settings.artifact_hmac_key is not None and settings.artifact_hmac_key.get_secret_value():
        key = settings.artifact_hmac_key.get_secret_value()
        if len(key) < MIN_KEY_CHARS:
            raise SigningKeyMissing(f"PP_ARTIFACT_HMAC_KEY must have at least {MIN_KEY_CHARS} characters")
        return key.encode()
    single_machine = (settings.storage_backend is StorageBackend.local
                      and settings.cassandra_flavor is CassandraFlavor.apache)  # fmt: skip
    if not single_machine:
        raise SigningKeyMissing("PP_ARTIFACT_HMAC_KEY is not set: model artifacts can be neither signed nor loaded")
    return _generated_key(settings.state_dir)


def sign(data: bytes, key: bytes | None = None) -> str:
    """Hex HMAC-SHA256 of the artifact bytes."""
    return hmac.new(key if key is not None else signing_key(), _CONTEXT + data, hashlib.sha256).hexdigest()


def verify(data: bytes, signature: str, key: bytes | None = None) -> bool:
    return bool(signature) and hmac.compare_digest(sign(data, key), signature)
