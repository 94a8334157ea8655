"""Flask app factory."""

from __future__ import annotations

from flask import Flask

from common.settings import get_settings


def create_app(config: dict | None = None) -> Flask:
    settings = get_settings()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.web_secret_key.get_secret_value() if settings.web_secret_key else "dev-only-insecure",
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
    )
    if config:
        app.config.update(config)

    from visualization_web import health

    app.register_blueprint(health.bp)
    return app
