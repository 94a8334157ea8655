"""The periodic reconcile of the corpus counters: count every corpus count exactly and correct its counter.

Writes keep the counters (``common.repositories.corpus_counters``) on the fly, and they drift: a redelivered
task can count twice, a crash between a write and its increment loses one, some writes (a full
reclassification pass, a privacy erase of predictions) count nothing. Celery beat sends
``ReconcileCorpusCounts`` every ``PP_CORPUS_RECONCILE_SECONDS``; the task calls :func:`run`.

Each count is scanned page by page (never more than a page in memory) and its counter is corrected by adding
the difference. Writes go on meanwhile, and a scan sees some of the rows they add or remove and misses
others. So the counter is read just before and just after the count's scan, and the difference is taken
against the middle of the two: when nothing changed during the scan the counter is then exactly the count;
otherwise it is off by at most half of what changed during that one scan, and the next reconcile corrects
that in turn. A Redis lock keeps two reconciles (a beat message redelivered while one runs) from correcting
the same drift twice.

``python -m trainer_worker.corpus_reconcile`` runs one now (after upgrading a keyspace that holds a corpus
to migration 0013, whose counters start at 0).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis

from common.db import Database, get_database
from common.infra.redis_client import redis_connection
from common.repositories import corpus_counters

log = logging.getLogger(__name__)

PAGE_SIZE = 5000
LOCK_KEY = "pp:{keyspace}:corpus-reconcile"


@dataclass(frozen=True)
class Result:
    counts: dict[str, int] = field(default_factory=dict)  # the exact counts
    corrections: dict[str, int] = field(default_factory=dict)  # what was added to each counter
    moved: dict[str, int] = field(default_factory=dict)  # how much each counter moved during its own scan
    seconds: float = 0.0
    scan_seconds: dict[str, float] = field(default_factory=dict)  # per scan ("predicted+unknown": one)
    skipped: bool = False  # another reconcile was running


def reconcile(db: Database, names: Sequence[str] = (), page_size: int = PAGE_SIZE) -> Result:
    """Count ``names`` (none given: every count) exactly, one after the other, and correct their counters;
    a reconcile of every count is recorded (``corpus_counters.set_reconciled``)."""
    names = names or corpus_counters.NAMES
    started = time.perf_counter()
    counts: dict[str, int] = {}
    corrections: dict[str, int] = {}
    moved: dict[str, int] = {}
    seconds: dict[str, float] = {}
    for scan in corpus_counters.scans(names):  # predicted and unknown come from one scan
        scan_started = time.perf_counter()
        before = corpus_counters.read(db, scan)
        exact = corpus_counters.exact_counts(db, scan, page_size)
        after = corpus_counters.read(db, scan)
        for name in scan:
            correction = exact[name] - (before[name] + after[name]) // 2  # the middle: see the module's docstring
            corpus_counters.add(db, name, correction)
            counts[name], corrections[name], moved[name] = exact[name], correction, after[name] - before[name]
        seconds["+".join(scan)] = round(time.perf_counter() - scan_started, 3)
    if set(names) >= set(corpus_counters.NAMES):  # what the dashboard's "reconciled ... ago" means
        corpus_counters.set_reconciled(db, datetime.now(UTC), corrections)
    result = Result(counts, corrections, moved, time.perf_counter() - started, seconds)
    drifted = {name: n for name, n in corrections.items() if n}
    log.info("corpus counts reconciled in %.1fs: %s%s", result.seconds, counts,
             f"; corrected {drifted}" if drifted else "")  # fmt: skip
    return result


def run(db: Database, client: redis.Redis, names: Sequence[str] = (),
        lock_seconds: int = 3600, page_size: int = PAGE_SIZE) -> Result:  # fmt: skip
    """:func:`reconcile` unless another one holds the lock (then a skipped result). ``lock_seconds``: how long
    the lock outlives a reconcile that crashed."""
    key = LOCK_KEY.format(keyspace=db.keyspace)
    token = secrets.token_hex(8)
    if not client.set(key, token, nx=True, ex=max(1, int(lock_seconds))):
        log.info("corpus counts: another reconcile is running")
        return Result(skipped=True)
    try:
        return reconcile(db, names, page_size)
    finally:
        if client.get(key) == token.encode():
            client.delete(key)


def main() -> None:  # pragma: no cover - a manual entry point around run()
    logging.basicConfig(level=logging.INFO)
    result = run(get_database(), redis_connection())
    print({"counts": result.counts, "corrections": result.corrections, "skipped": result.skipped})


if __name__ == "__main__":  # pragma: no cover
    main()
