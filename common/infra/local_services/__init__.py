"""Local infrastructure for development and tests: Cassandra and Redis, no Docker."""

from __future__ import annotations

from urllib.parse import urlparse

from common.infra.local_services.cassandra import LocalCassandra
from common.infra.local_services.redis_server import LocalRedis
from common.infra.settings import Settings


def local_services(settings: Settings) -> list:
    redis_port = urlparse(settings.redis_url).port or 6379
    return [
        LocalCassandra(settings.state_dir, native_port=settings.cassandra_port),
        LocalRedis(settings.state_dir, port=redis_port),
    ]
