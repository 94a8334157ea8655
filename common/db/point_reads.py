"""Many single-partition reads of one prepared statement, a bounded number in flight at once.

``Database.concurrently`` sends every statement at once (a page's few reads); this keeps at most
``concurrency`` in flight, for the thousands of point reads a reclassification batch makes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cassandra.concurrent import execute_concurrent_with_args

from common.db.database import Database
from common.db.retry import call_with_backoff


def read_many(db: Database, cql: str, keys: Sequence[Sequence[Any]], concurrency: int = 64) -> list[list]:
    """Rows of one prepared query per parameter tuple, in order."""
    if not keys:
        return []
    prepared = db.prepare(cql)

    def run() -> list[list]:
        out = []
        for ok, result in execute_concurrent_with_args(db.session, prepared, keys, concurrency=concurrency):
            if not ok:
                raise result
            out.append(list(result))
        return out

    return call_with_backoff(run, db.overload_retries)
