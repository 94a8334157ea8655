"""Ingest jobs and their items. Progress is kept in tallies counted once per item (``job_tally``), so
redelivered tasks never count twice and reading a job's progress never reads its items. Jobs from before
the tallies (migration 0010) are counted from their items."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from common.db import Database
from common.repositories import job_tally as tally
from common.repositories.ids import bucket_of

BUCKETS = 16
STORED = "stored"
DUPLICATE = "duplicate"
REJECTED = "rejected"
OUTCOMES = (STORED, DUPLICATE, REJECTED)
MAX_REJECTED_LISTED = 200
LEGACY_SCAN_ROWS = 10_000  # a job from before the counters: its rejected files are looked for in this many items


@dataclass(frozen=True)
class Job:
    job_id: str
    source: str
    status: str
    discovered: int | None
    options: dict
    error: str | None
    created_by: str
    created_at: datetime | None
    totals: dict | None = None  # the counters, once the job is done (progress then reads no item)
    counted: bool = False  # progress kept in ingest_job_tally (jobs created since migration 0010)


@dataclass(frozen=True)
class Item:
    item_key: str
    source_name: str
    outcome: str | None
    reason: str | None
    image_id: str | None
    extracted: bool
    faces: int | None


@dataclass
class Progress:
    job: Job
    counts: Counter = field(default_factory=Counter)

    @property
    def done(self) -> bool:
        c = self.counts
        if self.job.discovered is None or self.job.status == "failed":
            return self.job.status == "failed"
        settled = c["stored"] + c["duplicate"] + c["rejected"]
        return settled >= self.job.discovered and c["extracted"] >= c["stored"]

    def as_dict(self) -> dict:
        return {
            "job_id": self.job.job_id,
            "source": self.job.source,
            "status": "done" if self.done and self.job.status != "failed" else self.job.status,
            "discovered": self.job.discovered,
            "stored": self.counts["stored"],
            "duplicates": self.counts["duplicate"],
            "rejected": self.counts["rejected"],
            "extracted": self.counts["extracted"],
            "faces": self.counts["faces"],
            "error": self.job.error,
            "created_by": self.job.created_by,
            "created_at": self.job.created_at.isoformat() if self.job.created_at else None,
        }


def create(db: Database, job_id: str, source: str, actor: str, options: dict | None = None) -> Job:
    now = datetime.now(UTC)
    db.execute(
        "INSERT INTO ingest_jobs (job_id, source, status, options, created_by, created_at, counted) "
        "VALUES (?, ?, ?, ?, ?, ?, true) IF NOT EXISTS",
        (job_id, source, "discovering", json.dumps(options or {}), actor, now),
    )
    db.execute(
        "INSERT INTO ingest_jobs_by_day (day, created_at, job_id, source) VALUES (?, ?, ?, ?)",
        (now.date(), now, job_id, source),
    )
    return get(db, job_id)


def get(db: Database, job_id: str) -> Job | None:
    r = db.one("SELECT * FROM ingest_jobs WHERE job_id = ?", (job_id,))
    if r is None:
        return None
    return Job(r.job_id, r.source or "", r.status or "", r.discovered, json.loads(r.options or "{}"), r.error,
               r.created_by or "", r.created_at, json.loads(r.totals) if r.totals else None,
               bool(r.counted))  # fmt: skip


def set_discovered(db: Database, job_id: str, count: int) -> None:
    db.execute(
        "UPDATE ingest_jobs SET discovered = ?, status = ?, discovered_at = ? WHERE job_id = ?",
        (count, "running", datetime.now(UTC), job_id),
    )


def set_failed(db: Database, job_id: str, error: str) -> None:
    db.execute("UPDATE ingest_jobs SET status = ?, error = ? WHERE job_id = ?", ("failed", error[:2000], job_id))


def get_item(db: Database, job_id: str, item_key: str) -> Item | None:
    r = db.one(
        "SELECT * FROM ingest_job_items WHERE job_id = ? AND bucket = ? AND item_key = ?",
        (job_id, bucket_of(item_key, BUCKETS), item_key),
    )
    return _item(r) if r else None


def get_items(db: Database, job_id: str, item_keys: list[str]) -> dict[str, Item]:
    """Several items of a job, read at the same time (one round trip): item key -> item, when recorded."""
    statements = [
        ("SELECT * FROM ingest_job_items WHERE job_id = ? AND bucket = ? AND item_key = ?",
         (job_id, bucket_of(key, BUCKETS), key))
        for key in dict.fromkeys(item_keys)
    ]  # fmt: skip
    return {rows[0].item_key: _item(rows[0]) for rows in db.concurrently(statements) if rows}


def _item(r) -> Item:
    return Item(r.item_key, r.source_name or "", r.outcome, r.reason, r.image_id, bool(r.extracted), r.faces)


def record_outcome(db: Database, job_id: str, item_key: str, source_name: str, outcome: str,
                   image_id: str | None = None, reason: str | None = None) -> None:  # fmt: skip
    bucket = bucket_of(item_key, BUCKETS)
    db.execute(
        "UPDATE ingest_job_items SET source_name = ?, outcome = ?, image_id = ?, reason = ?, updated_at = ? "
        "WHERE job_id = ? AND bucket = ? AND item_key = ?",
        (source_name, outcome, image_id, reason, datetime.now(UTC), job_id, bucket, item_key),
    )
    if outcome == REJECTED:
        db.execute("INSERT INTO ingest_job_rejects (job_id, bucket, item_key, source_name, reason) "
                   "VALUES (?, ?, ?, ?, ?)", (job_id, bucket, item_key, source_name, reason))  # fmt: skip
    count_outcome(db, job_id, item_key, outcome)


def count_outcome(db: Database, job_id: str, item_key: str, outcome: str) -> None:
    """Count the item's outcome in its job's tallies, once however often it is recorded; an item counted with
    another outcome before (stored, then an internal error) moves from that tally to this one."""
    before = tally.update(db, job_id, item_key, lambda claim: claim.with_outcome(outcome))
    if before is not None and before.outcome == REJECTED != outcome:
        db.execute("DELETE FROM ingest_job_rejects WHERE job_id = ? AND bucket = ? AND item_key = ?",
                   (job_id, bucket_of(item_key, BUCKETS), item_key))  # fmt: skip


def record_extracted(db: Database, job_id: str, item_key: str, faces: int) -> None:
    """Mark the item extracted with its face count, and count it once (for a stored item) however often a
    redelivered extraction records it."""
    db.execute(*record_extracted_statement(job_id, item_key, faces))
    count_extracted(db, job_id, item_key, faces)


def count_extracted(db: Database, job_id: str, item_key: str, faces: int) -> None:
    """Count a stored item's extraction and faces in its job's tallies, the first time only. Call it after
    ``record_extracted_statement`` has run (the item row is the record; this is its tally)."""
    tally.update(db, job_id, item_key, lambda claim: claim.with_extraction(faces))


def record_extracted_statement(job_id: str, item_key: str, faces: int) -> tuple[str, tuple]:
    """``record_extracted`` as a statement, to run together with others (``Database.concurrently``)."""
    return (
        "UPDATE ingest_job_items SET extracted = true, faces = ?, updated_at = ? "
        "WHERE job_id = ? AND bucket = ? AND item_key = ?",
        (faces, datetime.now(UTC), job_id, bucket_of(item_key, BUCKETS), item_key),
    )


@dataclass(frozen=True)
class LabelOutcome:
    """What a labeled-folder import (``input_worker.folder_labels``) did with an item."""

    item_key: str
    outcome: str | None  # the file's: stored, duplicate, rejected
    reason: str | None
    label_outcome: str | None
    label_note: str | None
    label_persona: str | None


def record_label(db: Database, job_id: str, item_key: str, persona: str | None, outcome: str, note: str) -> None:
    db.execute(
        "UPDATE ingest_job_items SET label_persona = ?, label_outcome = ?, label_note = ? "
        "WHERE job_id = ? AND bucket = ? AND item_key = ?",
        (persona, outcome, note, job_id, bucket_of(item_key, BUCKETS), item_key),
    )


def label_outcomes(db: Database, job_id: str) -> Iterator[LabelOutcome]:
    """Every item of a job with what happened to its label (bucket after bucket, paged by the driver)."""
    for bucket in range(BUCKETS):
        rows = db.execute(
            "SELECT item_key, outcome, reason, label_outcome, label_note, label_persona "
            "FROM ingest_job_items WHERE job_id = ? AND bucket = ?",
            (job_id, bucket),
        )
        for r in rows:
            yield LabelOutcome(r.item_key, r.outcome, r.reason, r.label_outcome, r.label_note, r.label_persona)


def items(db: Database, job_id: str) -> list[Item]:
    out: list[Item] = []
    for bucket in range(BUCKETS):
        rows = db.execute("SELECT * FROM ingest_job_items WHERE job_id = ? AND bucket = ?", (job_id, bucket))
        out.extend(_item(r) for r in rows)
    return out


def progress(db: Database, job_id: str) -> Progress | None:
    """The job and its counters. While it runs: one read of its counter partition (a job from before the
    counters: of the three item columns they need, across all buckets). Once they say it is done, the
    counters are written to the job row, and from then on its progress is that one row."""
    job = get(db, job_id)
    if job is None:
        return None
    if job.totals is not None:
        return Progress(job, Counter(job.totals))
    found = Progress(job, _current_counts(db, job))
    if found.done and job.status != "failed":
        db.execute("UPDATE ingest_jobs SET totals = ? WHERE job_id = ?", (json.dumps(dict(found.counts)), job_id))
    return found


def _current_counts(db: Database, job: Job) -> Counter:
    if not job.counted:
        return _counts(db, job.job_id)
    return counters(db, job.job_id)


def counters(db: Database, job_id: str) -> Counter:
    """The job's tallies: stored, duplicate, rejected, extracted, faces (one small read per tally bucket)."""
    return tally.totals(db, job_id)


def rejected(db: Database, job: Job, limit: int = MAX_REJECTED_LISTED) -> list[Item]:
    """Up to ``limit`` rejected items of the job with their reasons: one bounded read. A job from before the
    counters has no list of its rejects: they are looked for among its first ``LEGACY_SCAN_ROWS`` items."""
    buckets = list(range(BUCKETS))
    if not job.counted:
        rows = db.execute("SELECT item_key, source_name, outcome, reason FROM ingest_job_items "
                          "WHERE job_id = ? AND bucket IN ? LIMIT ?",
                          (job.job_id, buckets, LEGACY_SCAN_ROWS))  # fmt: skip
        found = [r for r in rows if r.outcome == REJECTED][:limit]
    else:
        found = list(db.execute("SELECT item_key, source_name, reason FROM ingest_job_rejects "
                                "WHERE job_id = ? AND bucket IN ? LIMIT ?", (job.job_id, buckets, limit)))  # fmt: skip
    return [Item(r.item_key, r.source_name or "", REJECTED, r.reason, None, False, None) for r in found]


def _counts(db: Database, job_id: str) -> Counter:
    counts: Counter = Counter()
    rows = db.execute("SELECT outcome, extracted, faces FROM ingest_job_items WHERE job_id = ? AND bucket IN ?",
                      (job_id, list(range(BUCKETS))), fetch_size=5000)  # fmt: skip
    for outcome, extracted, faces in rows:
        if outcome:
            counts[outcome] += 1
        if outcome == STORED and extracted:
            counts["extracted"] += 1
            counts["faces"] += faces or 0
    return counts


def recent(db: Database, limit: int = 20, days: int = 30) -> list[Job]:
    out: list[Job] = []
    today = datetime.now(UTC).date()
    for offset in range(days):
        rows = db.execute(
            "SELECT job_id FROM ingest_jobs_by_day WHERE day = ? LIMIT ?", (today - timedelta(days=offset), limit)
        )
        for r in rows:
            job = get(db, r.job_id)
            if job:
                out.append(job)
        if len(out) >= limit:
            break
    return out[:limit]
