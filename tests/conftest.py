"""Test fixtures: the real local Cassandra and Redis, a keyspace per run, real Celery workers.

Integration tests never skip: if Cassandra or Redis cannot be started, the
session fixture fails the run with the reason.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

RUN_ID = uuid.uuid4().hex[:8]
TEST_KEYSPACE = f"pp_test_{RUN_ID}"
_BLOB_DIR = Path(tempfile.mkdtemp(prefix=f"pp-blobs-{RUN_ID}-"))

# Every process the tests start (workers, the web app) inherits this environment.
os.environ.update(
    {
        "PP_CASSANDRA_KEYSPACE": TEST_KEYSPACE,
        "PP_REDIS_URL": os.environ.get("PP_TEST_REDIS_URL", "redis://127.0.0.1:6379/3"),
        "PP_STORAGE_LOCAL_ROOT": str(_BLOB_DIR),
        "PP_RETRAIN_QUIET_SECONDS": os.environ.get("PP_RETRAIN_QUIET_SECONDS", "1"),
        "PP_HEARTBEAT_FILE": str(_BLOB_DIR / "heartbeat"),
        "PP_WORKER_METRICS_PORT": "0",  # no worker metrics port (tests that read one choose a free port)
    }
)
# The web app's first admin, for every suite that logs in (Flask test client and browser alike).
TEST_ADMIN_PASSWORD = "admin-password-123"
os.environ["PP_ADMIN_PASSWORD"] = TEST_ADMIN_PASSWORD
os.environ.setdefault("PP_WEB_SECRET_KEY", uuid.uuid4().hex + uuid.uuid4().hex)  # random, 64 characters


def pytest_collection_modifyitems(config, items):
    """Tests that stop or restart shared services run last, so others see a steady system."""
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)


def _clear_caches() -> None:
    from common.infra.settings import get_settings
    from common.storage import get_blob_store

    get_settings.cache_clear()
    get_blob_store.cache_clear()


@pytest.fixture(scope="session")
def settings():
    _clear_caches()
    from common.infra.settings import get_settings

    return get_settings()


@pytest.fixture(scope="session")
def services(settings):
    """Start (or reuse) the local Cassandra and Redis; fail loudly if they cannot run."""
    from common.infra.local_services import local_services

    for service in local_services(settings):
        service.start()
    return settings


@pytest.fixture(scope="session")
def db(services):
    from common.db import get_database, reset_database
    from common.db.migrate import migrate
    from common.db.session import connect

    cluster, session = connect(services)
    migrate(session, TEST_KEYSPACE, services.cassandra_replication)
    cluster.shutdown()
    database = get_database()
    yield database
    try:
        database.session.execute(f"DROP KEYSPACE IF EXISTS {TEST_KEYSPACE}", timeout=120)
    finally:
        reset_database()
        shutil.rmtree(_BLOB_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_client(services):
    import redis

    client = redis.Redis.from_url(services.redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def clean_tables(db):
    """Truncate every table (a clean slate for tests that count rows)."""
    tables = [r.table_name for r in db.execute(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?", (TEST_KEYSPACE,)
    )]  # fmt: skip
    for table in tables:
        if table != "schema_migrations":
            db.session.execute(f"TRUNCATE {table}", timeout=60)
    from common.repositories import read_model

    read_model.changed(db)  # pages cached before the truncation are stale now
    from visualization_web import corpus_counts

    corpus_counts.forget(db.keyspace)  # and so are the corpus counts
    return db


@pytest.fixture
def start_worker(db, redis_client, tmp_path):
    """Factory: start a real Celery worker process; all are stopped at the end of the test."""
    from tests.support.workers import WorkerProcess

    started: list[WorkerProcess] = []

    def _start(app: str, queues: str, name: str | None = None, **kwargs) -> WorkerProcess:
        worker = WorkerProcess(app, queues, name or f"{queues.replace(',', '-')}-{len(started)}",
                               log_dir=tmp_path, **kwargs)  # fmt: skip
        started.append(worker)
        return worker.start()

    yield _start
    for worker in started:
        worker.stop()
