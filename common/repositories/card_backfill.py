"""Cards for faces stored before migration 0006 (their embeddings: 0012) and images stored before 0007
(``persona-pipeline backfill-cards``).

A face stored before the cards existed has a ``faces_by_image`` row without ``card_since``: the image page
reads it from the face tables, a second round, until its card is written. The backfill scans
``faces_by_image`` (paged, in token order) and writes each such face's whole card from the tables of record
(``face_cards.from_tables``). It is idempotent: run again, it finds nothing left to write.

A label or prediction written for a face between the backfill's read of it and its card write can be
missing from the card (never from the tables of record). Run it while nobody labels and no reclassification
runs, or afterwards with ``rewrite_all`` (``--all``), which rewrites every card from the tables of record.

A face stored before migration 0012 has a card without its embedding: the same scan copies the embedding
from ``faces`` with the write time of the row it copies (``face_cards.embedding_copy_statement``), so an
erase that comes between the read and the copy stands over it; safe while the system runs. Until then a
reclassification pass reads those faces' embeddings from ``faces``.

An image's card (``images``' row copied into its partition) is written for every image, each with the
write time of the row it copies (``images.backfill_card_statement``): a write that comes between the read
and the copy, an erase included, keeps precedence, so this one is safe while the system runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from cassandra import InvalidRequest

from common.db import Database
from common.repositories import face_cards, faces, images, read_model

log = logging.getLogger(__name__)

PAGE_SIZE = 500


@dataclass(frozen=True)
class BackfillResult:
    scanned: int  # faces_by_image rows read
    written: int  # cards written
    embeddings: int = 0  # embeddings copied onto cards


def backfill_cards(db: Database, rewrite_all: bool = False, page_size: int = PAGE_SIZE) -> BackfillResult:
    """Write the card of every face that has none (every face with ``rewrite_all``) and copy the embedding
    onto every card without one."""
    scanned = written = copied = 0
    pending: list[str] = []
    no_embedding: list[str] = []
    for row in face_cards.scan_presence(db, page_size):
        scanned += 1
        if row.is_face and (rewrite_all or not row.has_card):
            pending.append(row.face_id)
        if row.is_face and not row.has_embedding:
            no_embedding.append(row.face_id)
        if len(pending) >= page_size:
            written += _write_cards(db, pending)
            pending = []
            log.info("cards: %d written, %d rows scanned", written, scanned)
        if len(no_embedding) >= page_size:
            copied += _copy_embeddings(db, no_embedding)
            no_embedding = []
            log.info("card embeddings: %d copied, %d rows scanned", copied, scanned)
    written += _write_cards(db, pending)
    copied += _copy_embeddings(db, no_embedding)
    if written:
        read_model.changed(db)
    return BackfillResult(scanned, written, copied)


def _copy_embeddings(db: Database, face_ids: list[str]) -> int:
    """The faces' embeddings onto their cards, each with its row's write time (faces erased meanwhile get none)."""
    if not face_ids:
        return 0
    found = faces.embeddings_with_write_times(db, face_ids)
    statements = [face_cards.embedding_copy_statement(image_id, face_id, embedding, written)
                  for face_id, image_id, embedding, written in found]  # fmt: skip
    if statements:
        db.execute_many(face_cards.EMBEDDING_AT_CQL, [params for _, params in statements])
    return len(statements)


def _write_cards(db: Database, face_ids: list[str]) -> int:
    """The faces' whole cards from the tables of record (faces erased meanwhile get none)."""
    if not face_ids:
        return 0
    now = datetime.now(UTC)
    statements = [face_cards.whole_card_statement(card, now) for card in face_cards.from_tables(db, face_ids).values()]
    if statements:
        db.execute_many(statements[0][0], [params for _, params in statements])
    return len(statements)


def backfill_image_cards(db: Database, page_size: int = PAGE_SIZE) -> BackfillResult:
    """Copy every image's row into its card (idempotent: a copy already there is written over by itself).
    A database that refuses the copy's ``USING TIMESTAMP`` gets none (logged): the pages of those images
    read ``images``, as before, so an upgrade is never stopped by it."""
    scanned = written = 0
    pending: list[tuple] = []
    try:
        for image, written_us in images.scan_with_write_times(db, page_size):
            scanned += 1
            cql, params = images.backfill_card_statement(image, written_us)
            pending.append(params)
            if len(pending) >= page_size:
                db.execute_many(cql, pending)
                written, pending = scanned, []
                log.info("image cards: %d written", written)
        if pending:
            db.execute_many(cql, pending)
            written = scanned
    except InvalidRequest as exc:
        log.warning("image cards not backfilled (%d written): %s; their pages read the images table", written, exc)
    if written:
        read_model.changed(db)
    return BackfillResult(scanned, written)
