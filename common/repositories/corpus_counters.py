"""Corpus counts kept on write (the dashboard's tiles, /metrics' ``pp_corpus_objects``), so reading them is a
handful of single-partition reads instead of a scan of whole tables.

Why counters: counting rows (``COUNT(*)`` of images and faces, a scan of ``predictions_by_face``, every
persona's labels) costs time and request units in proportion to the corpus (5 s at 100,000 faces here,
~500 s at 10 million). A write that knows it added or removed a row moves a counter instead.

The table (migration 0013): ``corpus_counters``, one partition per count (``name``) with ``BUCKETS`` counter
rows; an increment goes to a bucket chosen at random, a read sums the partition. Buckets spread concurrent
increments of one count over several counter cells (Cassandra serializes the increments of one cell on its
leader replica), and on Cosmos DB with several write regions they make it less likely that two regions
update the same row at once: Cosmos DB resolves such conflicts last-writer-wins per row
(https://learn.microsoft.com/azure/cosmos-db/conflict-resolution-policies), which can drop an increment.
Cosmos DB's API for Cassandra lists ``counter`` among its supported data types
(https://learn.microsoft.com/azure/cosmos-db/cassandra/support); the DDL was run here on Apache Cassandra 5.0
only, not on Cosmos DB.

Counters drift, so they are not the truth: a redelivered task can increment twice, a crash between a row's
write and its increment loses one, a concurrent write of the same row (two workers, two regions) can count
twice, and some writes do not know whether their row was new (a full reclassification pass, a privacy erase
of predictions) and count nothing. The drift is bounded by those rare events between two reconciles, and the
periodic reconcile (``trainer_worker.corpus_reconcile``, ``PP_CORPUS_RECONCILE_SECONDS``) counts every count
exactly with paged scans (:func:`exact`) and adds the difference. :func:`set_reconciled` records when (and
what it corrected) in ``corpus_reconciles``, so the dashboard can say how fresh the exact count is.

An increment never fails the write it counts: it is logged and left to the reconcile.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cassandra import DriverException
from cassandra.cluster import NoHostAvailable

from common.db import Database

log = logging.getLogger(__name__)

IMAGES = "images"  # rows of ``images`` with an image (a blob key)
FACES = "faces"  # rows of ``faces`` with an image id (vanished faces included)
PERSONAS = "personas"  # rows of ``personas``
CONFIRMED = "confirmed"  # 'confirm' rows of ``labels_by_persona`` (of existing personas)
PREDICTED = "predicted"  # rows of ``predictions_by_face`` with a persona
UNKNOWN = "unknown"  # rows of ``predictions_by_face`` without one
NAMES = (IMAGES, FACES, PERSONAS, CONFIRMED, PREDICTED, UNKNOWN)
BUCKETS = 8

PERSONAS_BUCKET = 0  # personas.BUCKET (not imported: personas imports this module)
LABEL_BUCKETS = 8  # labels.BUCKETS (likewise)

_ADD = "UPDATE corpus_counters SET n = n + ? WHERE name = ? AND bucket = ?"
_READ = "SELECT n FROM corpus_counters WHERE name = ?"
_RECONCILED = "SELECT reconciled_at, corrections FROM corpus_reconciles WHERE name = ?"
_SET_RECONCILED = "INSERT INTO corpus_reconciles (name, reconciled_at, corrections) VALUES (?, ?, ?)"
_LAST = "last"


def add(db: Database, name: str, delta: int) -> None:
    """Move the count ``name`` by ``delta`` (nothing when 0). Call it next to a write that knows it added
    (or removed) ``delta`` rows. A failure is logged, never raised: the reconcile corrects the count."""
    add_many(db, {name: delta})


def add_many(db: Database, deltas: Mapping[str, int]) -> None:
    """Several counts moved at once (one round of concurrent increments)."""
    statements = [(_ADD, (int(delta), name, random.randrange(BUCKETS))) for name, delta in deltas.items() if delta]
    for name in deltas:
        if name not in NAMES:
            raise ValueError(f"no corpus count {name!r}")
    if not statements:
        return
    try:
        db.concurrently(statements)
    except (DriverException, NoHostAvailable, OSError) as exc:  # the row is written; the reconcile fixes the count
        log.warning("corpus counters %s not moved (the reconcile will correct them): %s", dict(deltas), exc)


def read(db: Database, names: Sequence[str] = NAMES) -> dict[str, int]:
    """The counts: one partition read per name, all at once. A count nothing has moved yet is 0."""
    results = db.concurrently([(_READ, (name,)) for name in names])
    return {name: sum(row.n or 0 for row in rows) for name, rows in zip(names, results, strict=True)}


# --- predictions: the faces' transitions between no prediction, predicted and unknown -------------------------


def prediction_kind(persona_id: uuid.UUID | None) -> str:
    """The count a face's current prediction is in: ``PREDICTED`` (a persona) or ``UNKNOWN`` (None)."""
    return UNKNOWN if persona_id is None else PREDICTED


def prediction_deltas(changes: Iterable[tuple[str | None, str | None]]) -> dict[str, int]:
    """Per face (kind before, kind after), each ``PREDICTED``, ``UNKNOWN`` or None (no prediction): how the
    predicted and unknown counts move. For ``add_many``."""
    deltas = {PREDICTED: 0, UNKNOWN: 0}
    for before, after in changes:
        if before != after:
            if before is not None:
                deltas[before] -= 1
            if after is not None:
                deltas[after] += 1
    return deltas


# --- the reconcile's side: exact counts and when they were last taken ---------------------------------------


SCANS = ((IMAGES,), (FACES,), (PERSONAS,), (CONFIRMED,), (PREDICTED, UNKNOWN))  # counts one scan gives


def scans(names: Iterable[str]) -> list[tuple[str, ...]]:
    """``names`` grouped by the scan that counts them (predicted and unknown: one scan of predictions)."""
    wanted = set(names)
    unknown = wanted - set(NAMES)
    if unknown:
        raise ValueError(f"no corpus count {sorted(unknown)}")
    return [tuple(n for n in scan if n in wanted) for scan in SCANS if wanted & set(scan)]


def exact_counts(db: Database, names: Sequence[str], page_size: int = 5000) -> dict[str, int]:
    """The exact counts ``names`` (of one scan: see :func:`scans`), by a paged scan (the driver holds one
    page at a time): the table's rows for images, faces and predictions, each persona's label partitions
    for confirmed (one persona at a time), the personas partition for personas."""
    if set(names) <= {PREDICTED, UNKNOWN}:
        found = {PREDICTED: 0, UNKNOWN: 0}
        for row in db.execute("SELECT persona_id FROM predictions_by_face", fetch_size=page_size):
            found[UNKNOWN if row.persona_id is None else PREDICTED] += 1
        return {name: found[name] for name in names}
    return {name: exact(db, name, page_size) for name in names}


def exact(db: Database, name: str, page_size: int = 5000) -> int:
    """The exact count ``name`` (:func:`exact_counts`)."""
    if name == IMAGES:  # a row without a blob key is what a late status update left of an erased image
        return _count(db.execute("SELECT blob_key FROM images", fetch_size=page_size), "blob_key")
    if name == FACES:  # likewise a row without an image id (a late flag on a deleted face)
        return _count(db.execute("SELECT image_id FROM faces", fetch_size=page_size), "image_id")
    if name == PERSONAS:
        return sum(1 for _ in persona_ids(db, page_size))
    if name == CONFIRMED:
        cql = "SELECT verdict FROM labels_by_persona WHERE persona_id = ? AND bucket IN ?"
        buckets = list(range(LABEL_BUCKETS))
        return sum(
            sum(1 for row in db.execute(cql, (persona_id, buckets), fetch_size=page_size) if row.verdict == "confirm")
            for persona_id in persona_ids(db, page_size)
        )
    if name in (PREDICTED, UNKNOWN):
        return exact_counts(db, [name], page_size)[name]
    raise ValueError(f"no corpus count {name!r}")


def _count(rows: Iterable, column: str) -> int:
    return sum(1 for row in rows if getattr(row, column) is not None)


def persona_ids(db: Database, page_size: int = 5000) -> Iterator[uuid.UUID]:
    """Every persona's id, paged (the personas partition)."""
    for row in db.execute("SELECT persona_id FROM personas WHERE bucket = ?", (PERSONAS_BUCKET,), fetch_size=page_size):
        yield row.persona_id


@dataclass(frozen=True)
class Reconciled:
    """The last reconcile: when it finished and what it added to each count (its drift)."""

    at: datetime
    corrections: dict[str, int]


def set_reconciled(db: Database, at: datetime, corrections: Mapping[str, int]) -> None:
    db.execute(_SET_RECONCILED, (_LAST, at, json.dumps(dict(corrections), sort_keys=True)))


def reconciled(db: Database) -> Reconciled | None:
    """The last reconcile; None before the first."""
    return _reconciled(db.one(_RECONCILED, (_LAST,)))


def read_with_reconciled(db: Database, names: Sequence[str] = NAMES) -> tuple[dict[str, int], Reconciled | None]:
    """The counts and the last reconcile, in one round of concurrent reads (what the dashboard shows)."""
    results = db.concurrently([*((_READ, (name,)) for name in names), (_RECONCILED, (_LAST,))])
    counts = {name: sum(row.n or 0 for row in rows) for name, rows in zip(names, results, strict=False)}
    return counts, _reconciled(results[-1][0] if results[-1] else None)


def _reconciled(row) -> Reconciled | None:
    if row is None or row.reconciled_at is None:
        return None
    try:
        corrections = {str(k): int(v) for k, v in json.loads(row.corrections or "{}").items()}
    except (ValueError, TypeError, AttributeError):
        corrections = {}
    at = row.reconciled_at if row.reconciled_at.tzinfo else row.reconciled_at.replace(tzinfo=UTC)
    return Reconciled(at, corrections)
