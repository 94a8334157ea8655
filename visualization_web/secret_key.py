"""The key that signs session cookies: configured, at least 32 characters, or (development only) generated.

Anyone who knows the key can sign a session for any user, so no key is written in the code. Outside
development mode the app refuses to start without ``PP_WEB_SECRET_KEY`` of at least
:data:`MIN_LENGTH` characters. In development mode (``PP_WEB_DEV_MODE=1``) without a key, a random key is
generated once and kept in ``PP_STATE_DIR`` (readable by the owner only), so every web process of the
machine signs with the same key and a restart keeps people logged in; when the state folder is not
writable, each process generates its own.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from pathlib import Path

from common.infra.settings import Settings

log = logging.getLogger(__name__)

MIN_LENGTH = 32
DEV_KEY_FILE = "web-dev-secret-key"


class SecretKeyError(RuntimeError):
    """The app must not start with this key."""


def session_secret_key(settings: Settings, dev_mode: bool) -> str:
    configured = settings.web_secret_key.get_secret_value() if settings.web_secret_key else ""
    if configured:
        if len(configured) < MIN_LENGTH:
            raise SecretKeyError(
                f"PP_WEB_SECRET_KEY has {len(configured)} characters; it needs at least {MIN_LENGTH} "
                "(generate one: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return configured
    if not dev_mode:
        raise SecretKeyError(
            f"PP_WEB_SECRET_KEY is not set: the web app needs a random key of at least {MIN_LENGTH} characters "
            "(or PP_WEB_DEV_MODE=1 on a development machine)"
        )
    return _development_key(Path(settings.state_dir))


def _development_key(state_dir: Path) -> str:
    path = state_dir / DEV_KEY_FILE
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            for _ in range(50):  # another process may be writing it this instant
                key = path.read_text().strip()
                if len(key) >= MIN_LENGTH:
                    return key
                time.sleep(0.05)
            raise SecretKeyError(f"{path} holds no usable key: delete it to have a new one generated") from None
        key = secrets.token_urlsafe(48)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        return key
    except OSError as exc:
        log.warning("development mode: no key file in %s (%s); this process signs with its own key", state_dir, exc)
        return secrets.token_urlsafe(48)
