"""Images (id = SHA-256 of the bytes) and their listing by day."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from common import read_model
from common.db import Database

STORED = "stored"
PROCESSED = "processed"
FAILED = "failed"


@dataclass(frozen=True)
class Image:
    image_id: str
    blob_key: str
    source: str
    source_name: str
    size_bytes: int
    width: int
    height: int
    format: str
    status: str
    face_count: int | None
    error: str | None
    job_id: str | None
    item_key: str | None
    created_at: datetime | None
    processed_at: datetime | None


def _image(r) -> Image:
    return Image(
        r.image_id, r.blob_key, r.source or "", r.source_name or "", r.size_bytes or 0, r.width or 0,
        r.height or 0, r.format or "", r.status or STORED, r.face_count, r.error, r.job_id, r.item_key,
        r.created_at, r.processed_at,
    )  # fmt: skip


def insert_if_absent(db: Database, image: Image) -> tuple[bool, Image]:
    """Claim the image id (LWT). Returns (inserted, the row as stored now)."""
    created = image.created_at or datetime.now(UTC)
    row = db.one(
        "INSERT INTO images (image_id, blob_key, source, source_name, size_bytes, width, height, format, status, "
        "job_id, item_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS",
        (
            image.image_id, image.blob_key, image.source, image.source_name, image.size_bytes, image.width,
            image.height, image.format, STORED, image.job_id, image.item_key, created,
        ),
    )  # fmt: skip
    if row.applied:
        db.execute(
            "INSERT INTO images_by_day (day, created_at, image_id, source_name) VALUES (?, ?, ?, ?)",
            (created.date(), created, image.image_id, image.source_name),
        )
        return True, replace(image, status=STORED, created_at=created)  # as written: no re-read
    return False, _image(row)


def get(db: Database, image_id: str) -> Image | None:
    row = db.one("SELECT * FROM images WHERE image_id = ?", (image_id,))
    return _image(row) if row else None


def mark_processed(db: Database, image_id: str, face_count: int) -> None:
    db.execute(*mark_processed_statement(image_id, face_count))
    read_model.changed(db)


def mark_processed_statement(image_id: str, face_count: int) -> tuple[str, tuple]:
    """``mark_processed`` as a statement, to run together with others (``Database.concurrently``); the
    caller then calls ``read_model.changed``."""
    return (
        "UPDATE images SET status = ?, face_count = ?, error = null, processed_at = ? WHERE image_id = ?",
        (PROCESSED, face_count, datetime.now(UTC), image_id),
    )


def mark_failed(db: Database, image_id: str, error: str) -> None:
    db.execute(
        "UPDATE images SET status = ?, error = ?, processed_at = ? WHERE image_id = ?",
        (FAILED, error[:2000], datetime.now(UTC), image_id),
    )
    read_model.changed(db)


def list_recent(
    db: Database, limit: int = 50, days: int = 365, before: datetime | None = None
) -> list[tuple[datetime, str, str]]:
    """(created_at, image_id, source_name), newest first, across day partitions."""
    out: list[tuple[datetime, str, str]] = []
    start = (before or datetime.now(UTC)).date()
    for offset in range(days):
        day = start - timedelta(days=offset)
        if before is not None and offset == 0:
            rows = db.execute(
                "SELECT created_at, image_id, source_name FROM images_by_day WHERE day = ? AND created_at < ? LIMIT ?",
                (day, before, limit - len(out)),
            )
        else:
            rows = db.execute(
                "SELECT created_at, image_id, source_name FROM images_by_day WHERE day = ? LIMIT ?",
                (day, limit - len(out)),
            )
        out.extend((r.created_at, r.image_id, r.source_name or "") for r in rows)
        if len(out) >= limit:
            break
    return out


def delete(db: Database, image: Image) -> None:
    db.execute("DELETE FROM images WHERE image_id = ?", (image.image_id,))
    if image.created_at:
        db.execute(
            "DELETE FROM images_by_day WHERE day = ? AND created_at = ? AND image_id = ?",
            (image.created_at.date(), image.created_at, image.image_id),
        )
    read_model.changed(db)
