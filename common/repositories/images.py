"""Images (id = SHA-256 of the bytes), their listing by day, and their cards.

An image's card is a copy of its row in static columns of its ``faces_by_image`` partition (migration
0007), next to its faces' cards (``common.repositories.face_cards``): the image page reads that one
partition. The ``images`` table stays the system of record; every write here writes the copy with it, in
the same round. Whole writes of the copy set ``image_card_since``; a partition without it (an image stored
before 0007) is read from ``images`` (:func:`from_card_row` answers None) until the backfill copies it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import astuple, dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from common.db import Database
from common.repositories import corpus_counters, read_model

Statement = tuple[str, Sequence[Any]]

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
    rotation: int = 0  # degrees clockwise the decoded image is turned to be displayed (migration 0015)


_COPIED = tuple(f.name for f in fields(Image))[1:]  # every column but the key
CARD_CQL = (  # parameters: card_params(...)
    "UPDATE faces_by_image SET " + ", ".join(f"image_{name} = ?" for name in _COPIED)
    + ", image_card_since = ? WHERE image_id = ?"
)  # fmt: skip
_CARD_AT_CQL = CARD_CQL.replace("faces_by_image SET", "faces_by_image USING TIMESTAMP ? SET")
_DELETE_CARD = (
    "DELETE " + ", ".join(f"image_{name}" for name in (*_COPIED, "card_since"))
    + " FROM faces_by_image WHERE image_id = ?"
)  # fmt: skip


def card_params(image: Image, since: datetime | None = None) -> tuple:
    """``CARD_CQL``'s parameters: the whole copy of ``image``."""
    return *astuple(image)[1:], since or datetime.now(UTC), image.image_id


def card_statement(image: Image) -> Statement:
    return CARD_CQL, card_params(image)


def backfill_card_statement(image: Image, written_us: int) -> Statement:
    """The whole copy, written with the write time of the row's ``status`` (which every write of the row
    sets): a write since (a status update, an erase) has a later time, so it stands over the copy."""
    return _CARD_AT_CQL, (written_us, *card_params(image))


def scan_with_write_times(db: Database, page_size: int = 500) -> Iterator[tuple[Image, int]]:
    """Every image with the write time (µs) of its ``status``, paged by the driver (a full-table read)."""
    columns = ", ".join(("image_id", *_COPIED))
    for row in db.execute(f"SELECT {columns}, WRITETIME(status) AS written FROM images", fetch_size=page_size):
        if row.blob_key is not None and row.written is not None:  # not what a late update left of an erased one
            yield _image(row), row.written


def from_card_row(row: Any) -> Image | None:
    """The image as its card has it (any row of its ``faces_by_image`` partition); None without a card."""
    if row.image_card_since is None:
        return None
    return _image(row, "image_")


def _updates(image_id: str, **values: Any) -> list[Statement]:
    """The same columns set in the row of record and in its card."""
    params = (*values.values(), image_id)
    return [(f"UPDATE {table} SET {', '.join(f'{prefix}{name} = ?' for name in values)} WHERE image_id = ?", params)
            for table, prefix in (("images", ""), ("faces_by_image", "image_"))]  # fmt: skip


def _image(r, prefix: str = "") -> Image:
    """An ``images`` row, or (``prefix="image_"``) the card columns of a ``faces_by_image`` row."""
    v = {name: getattr(r, prefix + name) for name in _COPIED}
    return Image(
        r.image_id, v["blob_key"], v["source"] or "", v["source_name"] or "", v["size_bytes"] or 0, v["width"] or 0,
        v["height"] or 0, v["format"] or "", v["status"] or STORED, v["face_count"], v["error"], v["job_id"],
        v["item_key"], v["created_at"], v["processed_at"], v["rotation"] or 0,
    )  # fmt: skip


_CLAIMED = ("blob_key", "source", "source_name", "size_bytes", "width", "height", "format", "status", "job_id",
            "item_key", "created_at")  # fmt: skip
_INSERT = f"INSERT INTO images (image_id, {', '.join(_CLAIMED)}) VALUES (?{', ?' * len(_CLAIMED)}) IF NOT EXISTS"
# A row without a blob key is what a status update that landed after an erase re-creates (an extraction
# still running): no image. Its id is claimed like an absent one, with every column written anew.
_CLAIM_GHOST = (
    f"UPDATE images SET {', '.join(f'{name} = ?' for name in _CLAIMED)}, face_count = null, error = null, "
    "processed_at = null, rotation = null WHERE image_id = ? IF blob_key = null"
)


def insert_if_absent(db: Database, image: Image) -> tuple[bool, Image]:
    """Claim the image id (LWT), also over a row an erase left without its image. Returns (inserted, the
    row as stored now)."""
    created = image.created_at or datetime.now(UTC)
    values = (image.blob_key, image.source, image.source_name, image.size_bytes, image.width, image.height,
              image.format, STORED, image.job_id, image.item_key, created)  # fmt: skip
    for _attempt in range(3):  # a claim lost to another ingest (or an erase) between the two: look again
        row = db.one(_INSERT, (image.image_id, *values))
        if row.applied or row.blob_key is not None:
            inserted = row.applied
            break
        if db.one(_CLAIM_GHOST, (*values, image.image_id)).applied:
            inserted = True
            break
    else:
        raise RuntimeError(f"image {image.image_id} is being claimed and erased concurrently; try again")
    if inserted:
        stored = replace(image, status=STORED, face_count=None, error=None, processed_at=None, created_at=created,
                         rotation=0)  # fmt: skip
        db.concurrently([
            ("INSERT INTO images_by_day (day, created_at, image_id, source_name) VALUES (?, ?, ?, ?)",
             (created.date(), created, image.image_id, image.source_name)),
            card_statement(stored),
        ])  # fmt: skip
        corpus_counters.add(db, corpus_counters.IMAGES, 1)  # the claim was ours: a new image
        return True, stored  # as written: no re-read
    return False, _image(row)


def get(db: Database, image_id: str) -> Image | None:
    """The image; None also for what a status update that came after an erase left (a row without a blob)."""
    row = db.one("SELECT * FROM images WHERE image_id = ?", (image_id,))
    return _image(row) if row and row.blob_key is not None else None


def mark_processed(db: Database, image_id: str, face_count: int, rotation: int = 0,
                   size: tuple[int, int] | None = None) -> None:  # fmt: skip
    db.concurrently(mark_processed_statements(image_id, face_count, rotation, size))
    read_model.changed(db)


def mark_processed_statements(image_id: str, face_count: int, rotation: int = 0,
                              size: tuple[int, int] | None = None) -> list[Statement]:  # fmt: skip
    """``mark_processed`` as statements, to run together with others (``Database.concurrently``); the
    caller then calls ``read_model.changed``. ``rotation``: the turn the faces' boxes are in; ``size``:
    (width, height) of the image so turned, as displayed (None: unchanged)."""
    values: dict[str, Any] = {"status": PROCESSED, "face_count": face_count, "error": None,
                              "processed_at": datetime.now(UTC), "rotation": rotation}  # fmt: skip
    if size is not None:
        values["width"], values["height"] = size
    return _updates(image_id, **values)


def mark_failed(db: Database, image_id: str, error: str) -> None:
    db.concurrently(_updates(image_id, status=FAILED, error=error[:2000], processed_at=datetime.now(UTC)))
    read_model.changed(db)


_RECENT = "SELECT created_at, image_id, source_name FROM images_by_day WHERE day = ?"
MAX_ROWS_PER_READ = 10_000


def list_recent(
    db: Database, limit: int = 50, days: int = 365, before: datetime | None = None
) -> list[tuple[datetime, str, str]]:
    """(created_at, image_id, source_name), newest first, across day partitions. The days are read in
    windows of concurrent reads, growing 1, 4, 16, then 31 days: a year without images is 14 round trips,
    not 365 one after the other (270 ms here). A window asks for at most ``MAX_ROWS_PER_READ`` rows in all
    (days x rows still wanted), so no call reads much more than that."""
    out: list[tuple[datetime, str, str]] = []
    start = (before or datetime.now(UTC)).date()
    offset, window = 0, 1
    while offset < days and len(out) < limit:
        wanted = limit - len(out)
        window = max(1, min(window, MAX_ROWS_PER_READ // wanted))
        statements = []
        for day_offset in range(offset, min(days, offset + window)):
            day = start - timedelta(days=day_offset)
            if before is not None and day_offset == 0:
                statements.append((f"{_RECENT} AND created_at < ? LIMIT ?", (day, before, wanted)))
            else:
                statements.append((f"{_RECENT} LIMIT ?", (day, wanted)))
        for rows in db.concurrently(statements):
            out.extend((r.created_at, r.image_id, r.source_name or "") for r in rows)
        offset, window = offset + window, min(31, window * 4)
    return out[:limit]


def delete(db: Database, image: Image) -> None:
    db.concurrently([("DELETE FROM images WHERE image_id = ?", (image.image_id,)), (_DELETE_CARD, (image.image_id,))])
    if image.created_at:
        db.execute(
            "DELETE FROM images_by_day WHERE day = ? AND created_at = ? AND image_id = ?",
            (image.created_at.date(), image.created_at, image.image_id),
        )
    corpus_counters.add(db, corpus_counters.IMAGES, -1)  # ``image`` was read: it existed
    read_model.changed(db)


def count(db: Database) -> int:
    """Every image row (a full-table ``COUNT(*)``: slow, for counts kept off the request path)."""
    return db.one("SELECT COUNT(*) AS n FROM images").n


def scan_ids(db: Database, page_size: int = 1000) -> Iterator[str]:
    """The id of every image row, paged by the driver (a full-table read)."""
    for row in db.execute("SELECT image_id FROM images", fetch_size=page_size):
        yield row.image_id


def scan_ids_without_faces(db: Database, page_size: int = 1000) -> Iterator[str]:
    """The id of every processed image in which extraction found no face (a paged full-table read: an
    operator's command, e.g. after the detector learnt to search sideways photos)."""
    for row in db.execute("SELECT image_id, status, face_count FROM images", fetch_size=page_size):
        if row.status == PROCESSED and row.face_count == 0:
            yield row.image_id
