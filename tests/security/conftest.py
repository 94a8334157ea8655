"""The security suite: every attack of the threat model (docs/security.md) against the real app, workers,
Cassandra and Redis. It shares the web suite's fixtures (a fresh app, users of each role, logged-in clients)."""

from __future__ import annotations

from tests.integration.visualization_web.conftest import (  # noqa: F401  (pytest fixtures)
    Browser,
    login,
    web,
    web_db,
)
