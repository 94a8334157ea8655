"""A throw-away environment for one benchmark: its own keyspace, Redis DB and blob folder."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def isolated(redis_db: int, name: str = "bench") -> Iterator[Path]:
    """Point the settings at a new keyspace (migrated), Redis DB ``redis_db`` (flushed) and a temp
    blob folder; yield the work folder; drop all of it afterwards. Local services must be running."""
    import redis

    work = Path(tempfile.mkdtemp(prefix=f"pp-{name}-"))
    keyspace = f"pp_{name}_{uuid.uuid4().hex[:8]}"
    redis_url = f"redis://127.0.0.1:6379/{redis_db}"
    os.environ.update(
        {
            "PP_CASSANDRA_KEYSPACE": keyspace,
            "PP_REDIS_URL": redis_url,
            "PP_STORAGE_LOCAL_ROOT": str(work / "blobs"),
            "PP_HEARTBEAT_FILE": str(work / "heartbeat"),
        }
    )
    from common.db import reset_database
    from common.db.migrate import migrate
    from common.db.session import connect
    from common.infra.settings import get_settings
    from common.storage import get_blob_store

    get_settings.cache_clear()
    get_blob_store.cache_clear()
    reset_database()
    settings = get_settings()
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    cluster, session = connect(settings)
    migrate(session, keyspace, settings.cassandra_replication)
    try:
        yield work
    finally:
        reset_database()
        session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=120)
        cluster.shutdown()
        client.flushdb()
        client.close()
        shutil.rmtree(work, ignore_errors=True)
