"""An ingest job's tallies (stored, duplicate, rejected, extracted, faces), counted once per item.

Reading a job's progress must not read its items (a folder can hold millions), and tasks are redelivered,
so a tally must move exactly once per item, even when a worker dies or a write times out halfway.
Cassandra counters cannot promise that: the claim "this item is counted" and the increment are two writes.

So each tally bucket is one partition of ``ingest_job_tally``: a row per counted item (its outcome,
whether its extraction is counted, its faces) and the bucket's tallies in static columns. One lightweight
transaction sets an item's row and the new tallies together, on the condition that both are still what
was read: an item is counted in the same write that records it as counted, so a redelivery finds it
counted or not at all. Writers of one bucket that collide retry with the values the failed transaction
returns. The job's totals are the sum of ``BUCKETS`` single-row reads.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

from cassandra import OperationTimedOut

from common.db import Database
from common.repositories.ids import bucket_of

BUCKETS = 32  # partitions per job: fewer collisions between the workers of one job
MAX_ATTEMPTS = 200
OUTCOME_TALLY = {"stored": "n_stored", "duplicate": "n_duplicate", "rejected": "n_rejected"}
TALLIES = ("n_stored", "n_duplicate", "n_rejected", "n_extracted", "n_faces")
_CLAIM = ("outcome", "extracted", "faces")
_COLUMNS = (*_CLAIM, *TALLIES)
_SET = (
    f"UPDATE ingest_job_tally SET {', '.join(f'{c} = ?' for c in _COLUMNS)} "
    f"WHERE job_id = ? AND bucket = ? AND item_key = ? IF {' AND '.join(f'{c} = ?' for c in _COLUMNS)}"
)
_READ_ITEM = f"SELECT {', '.join(_COLUMNS)} FROM ingest_job_tally WHERE job_id = ? AND bucket = ? AND item_key = ?"
_READ_TALLIES = f"SELECT {', '.join(TALLIES)} FROM ingest_job_tally WHERE job_id = ? AND bucket = ? LIMIT 1"


@dataclass(frozen=True)
class Claim:
    """What of one item is counted, and the tallies of its bucket, as read."""

    outcome: str | None = None
    extracted: bool | None = None
    faces: int | None = None
    tallies: tuple[int | None, ...] = (None,) * len(TALLIES)

    def tally(self, name: str) -> int:
        return self.tallies[TALLIES.index(name)] or 0

    def _moved(self, deltas: dict[str, int]) -> tuple[int, ...]:
        return tuple(self.tally(name) + deltas.get(name, 0) for name in TALLIES)

    def with_outcome(self, outcome: str) -> Claim | None:
        """The claim with ``outcome`` counted; None when it is counted already."""
        if self.outcome == outcome:
            return None
        deltas = {OUTCOME_TALLY[outcome]: 1}
        if self.outcome is not None:  # counted with another outcome: move it
            deltas[OUTCOME_TALLY[self.outcome]] = -1
            if self.extracted:  # a stored item whose extraction was counted is no longer stored
                deltas |= {"n_extracted": -1, "n_faces": -(self.faces or 0)}
        extracted = self.extracted and outcome == "stored"
        return replace(self, outcome=outcome, extracted=extracted or None, faces=self.faces if extracted else None,
                       tallies=self._moved(deltas))  # fmt: skip

    def with_extraction(self, faces: int) -> Claim | None:
        """The claim with a stored item's extraction counted; None when counted already, or not stored."""
        if self.outcome != "stored" or self.extracted:
            return None
        return replace(self, extracted=True, faces=faces, tallies=self._moved({"n_extracted": 1, "n_faces": faces}))

    def values(self) -> tuple:
        return (self.outcome, self.extracted, self.faces, *self.tallies)


def _claim(row) -> Claim:
    return Claim(row.outcome, row.extracted, row.faces, tuple(getattr(row, name) for name in TALLIES))


def update(db: Database, job_id: str, item_key: str, change: Callable[[Claim], Claim | None]) -> Claim | None:
    """Apply ``change`` to the item's claim and its bucket's tallies in one conditional write; returns the
    claim as it was before (None when ``change`` had nothing to count)."""
    bucket = bucket_of(item_key, BUCKETS)
    key = (job_id, bucket, item_key)
    row = db.one(_READ_ITEM, key)
    if row is not None:
        current = _claim(row)
    else:  # the item is not counted yet: its bucket's tallies alone
        tallies = db.one(_READ_TALLIES, (job_id, bucket))
        current = Claim(tallies=tuple(getattr(tallies, name) for name in TALLIES)) if tallies else Claim()
    for attempt in range(MAX_ATTEMPTS):
        wanted = change(current)
        if wanted is None:
            return None
        result = db.one(_SET, (*wanted.values(), *key, *current.values()))
        if result.applied:
            return current
        current = _claim(result)  # another writer of this bucket was first: its values, and try again
        time.sleep(random.uniform(0, 0.002 * min(attempt, 10)))
    raise OperationTimedOut(f"job {job_id}: tally bucket {bucket} stayed contended for {MAX_ATTEMPTS} attempts")


def totals(db: Database, job_id: str) -> Counter:
    """The job's tallies summed over its buckets (``BUCKETS`` one-row reads at once)."""
    rows = db.concurrently([(_READ_TALLIES, (job_id, bucket)) for bucket in range(BUCKETS)])
    found: Counter = Counter()
    for bucket_rows in rows:
        for row in bucket_rows:
            for name in TALLIES:
                found[name[2:]] += getattr(row, name) or 0
    return Counter({name: n for name, n in found.items() if n})
