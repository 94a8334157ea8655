"""Corpus counts (the dashboard's tiles, /metrics' ``pp_corpus_objects``), read from the counters writes keep.

Counting whole tables took 5 s at 100,000 faces and would take ~500 s at 10 million, so it used to run in a
background thread, shared through Redis. Now every write that adds or removes a counted row moves a counter
(``common.repositories.corpus_counters``), and a view reads the counters: one partition per count and the
last reconcile's row, in one round of concurrent reads, on the request. The periodic reconcile
(``trainer_worker.corpus_reconcile``, every ``PP_CORPUS_RECONCILE_SECONDS``) counts exactly and corrects
them; :meth:`Counts.age` is the time since it last did.

A fresh keyspace shows zeros (its counters are empty, and every write since its creation is counted); a
keyspace that held a corpus before migration 0013 shows what was written since, until the first reconcile.

``rejected_files`` (rejected files of the ten most recent ingest jobs) is not a corpus count: it is read from
those jobs' tallies, a bounded read whatever the corpus size, kept per process for
``PP_CORPUS_COUNTS_SECONDS`` and refreshed in the background (``dashboard_queries.cached``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from common.db import Database
from common.infra.settings import get_settings
from common.repositories import corpus_counters, jobs
from visualization_web import dashboard_queries

RECENT_JOBS = 10


@dataclass(frozen=True)
class Counts:
    values: dict[str, int]  # images, faces, personas, confirmed, predicted, unknown[, rejected_files]
    reconciled_at: float | None  # when the counters were last counted exactly (epoch seconds); None: not yet

    def age(self) -> float | None:
        """Seconds since the last exact count; None before the first."""
        return None if self.reconciled_at is None else max(0.0, time.time() - self.reconciled_at)


def current(db: Database, rejected: bool = True) -> Counts:
    """The counts as the counters have them now; ``rejected``: with the recent jobs' ``rejected_files``."""
    values, last = corpus_counters.read_with_reconciled(db)
    if rejected:
        values["rejected_files"] = dashboard_queries.cached(
            _key(db.keyspace), get_settings().corpus_counts_seconds, lambda: rejected_files(db)
        )
    return Counts(values, last.at.timestamp() if last else None)


def rejected_files(db: Database) -> int:
    """Files rejected by the ten most recent ingest jobs (each job's progress is its tallies or its row)."""
    total = 0
    for job in jobs.recent(db, limit=RECENT_JOBS):
        progress = jobs.progress(db, job.job_id)
        total += progress.counts["rejected"] if progress else 0
    return total


def _key(keyspace: str) -> str:
    return f"rejected-files:{keyspace}"


def forget(keyspace: str) -> None:
    """Drop this process's rejected-files count (after a keyspace was emptied); the counters live in it."""
    dashboard_queries.forget(_key(keyspace))
