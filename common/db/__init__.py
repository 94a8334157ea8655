"""Cassandra access: sessions, the Database handle, migrations."""

from __future__ import annotations

import os
import threading

from common.db.database import Database
from common.infra.settings import get_settings

_db: Database | None = None
_db_pid: int | None = None
_lock = threading.Lock()


def get_database() -> Database:
    """The process-wide Database; reconnects after a fork (Celery prefork children)."""
    global _db, _db_pid
    if _db is None or _db_pid != os.getpid():
        with _lock:
            if _db is None or _db_pid != os.getpid():
                _db = Database.connect(get_settings())
                _db_pid = os.getpid()
    return _db


def reset_database() -> None:
    global _db, _db_pid
    with _lock:
        if _db is not None and _db_pid == os.getpid():
            _db.close()
        _db = None
        _db_pid = None


__all__ = ["Database", "get_database", "reset_database"]
