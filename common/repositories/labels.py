"""Human labels: 'confirm' (this face is P) and 'reject' (this face is not P). Ground truth."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from common.db import Database
from common.db.in_reads import in_statements
from common.db.point_reads import read_many
from common.repositories import corpus_counters, face_cards, read_model
from common.repositories.ids import bucket_of

BUCKETS = 8
CONFIRM = "confirm"
REJECT = "reject"
VERDICTS = (CONFIRM, REJECT)


@dataclass(frozen=True)
class Label:
    face_id: str
    persona_id: uuid.UUID
    verdict: str
    labeled_by: str = ""
    labeled_at: datetime | None = None


@dataclass
class FaceLabels:
    """A face's verdicts: the persona it is confirmed as (if any) and the personas it is rejected for."""

    confirmed: uuid.UUID | None = None
    rejected: set[uuid.UUID] = field(default_factory=set)

    def add(self, persona_id: uuid.UUID, verdict: str) -> None:
        if verdict == CONFIRM:
            self.confirmed = persona_id
        elif verdict == REJECT:
            self.rejected.add(persona_id)


def _row(r) -> Label:
    return Label(r.face_id, r.persona_id, r.verdict, r.labeled_by or "", r.labeled_at)


def for_face(db: Database, face_id: str) -> list[Label]:
    return [_row(r) for r in db.execute("SELECT * FROM labels_by_face WHERE face_id = ?", (face_id,))]


def confirmed_persona(labels: list[Label]) -> uuid.UUID | None:
    return next((lab.persona_id for lab in labels if lab.verdict == CONFIRM), None)


def put(db: Database, face_id: str, persona_id: uuid.UUID, verdict: str, actor: str,
        image_id: str | None = None) -> list[Label]:  # fmt: skip
    """Record a verdict; confirming a face for P removes its confirmation for any other persona.

    Returns the labels the face had before, so the caller can record them for undo. ``image_id`` (the
    face's image, for its card) is looked up when not given.
    """
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}")
    before = for_face(db, face_id)
    image_id = image_id or face_cards.image_of(db, face_id)
    if verdict == CONFIRM:
        for old in before:
            if old.verdict == CONFIRM and old.persona_id != persona_id:
                remove(db, face_id, old.persona_id, image_id)
    now = datetime.now(UTC)
    write(db, Label(face_id, persona_id, verdict, actor, now), image_id)
    confirms = [old.persona_id for old in before if old.verdict == CONFIRM]  # after: 1, or those of others
    after = 1 if verdict == CONFIRM else sum(1 for p in confirms if p != persona_id)
    corpus_counters.add(db, corpus_counters.CONFIRMED, after - len(confirms))
    return before


def write(db: Database, label: Label, image_id: str | None = None) -> None:
    """The label in both label tables and on the face's card (none when the face is gone)."""
    params = (label.verdict, label.labeled_by, label.labeled_at or datetime.now(UTC))
    statements = [
        ("INSERT INTO labels_by_face (face_id, persona_id, verdict, labeled_by, labeled_at) VALUES (?, ?, ?, ?, ?)",
         (label.face_id, label.persona_id, *params)),
        ("INSERT INTO labels_by_persona (persona_id, bucket, face_id, verdict, labeled_by, labeled_at) "
         "VALUES (?, ?, ?, ?, ?, ?)", (label.persona_id, bucket_of(label.face_id, BUCKETS), label.face_id, *params)),
    ]  # fmt: skip
    image_id = image_id or face_cards.image_of(db, label.face_id)
    if image_id:
        statements.append(face_cards.label_statement(image_id, label.face_id, label.persona_id, label.verdict,
                                                     label.labeled_by))  # fmt: skip
    db.concurrently(statements)
    read_model.changed(db)


def remove(db: Database, face_id: str, persona_id: uuid.UUID, image_id: str | None = None) -> None:
    statements = [
        ("DELETE FROM labels_by_face WHERE face_id = ? AND persona_id = ?", (face_id, persona_id)),
        ("DELETE FROM labels_by_persona WHERE persona_id = ? AND bucket = ? AND face_id = ?",
         (persona_id, bucket_of(face_id, BUCKETS), face_id)),
    ]  # fmt: skip
    image_id = image_id or face_cards.image_of(db, face_id)
    if image_id:
        statements.append(face_cards.unlabel_statement(image_id, face_id, persona_id))
    db.concurrently(statements)
    read_model.changed(db)


def restore(db: Database, face_id: str, previous: list[Label]) -> None:
    """Put a face's labels back exactly as ``previous`` (undo)."""
    image_id = face_cards.image_of(db, face_id)
    current = for_face(db, face_id)
    for label in current:
        remove(db, face_id, label.persona_id, image_id)
    for label in previous:
        write(db, label, image_id)
    moved = sum(1 for lab in previous if lab.verdict == CONFIRM) - sum(1 for lab in current if lab.verdict == CONFIRM)
    corpus_counters.add(db, corpus_counters.CONFIRMED, moved)


def for_persona(db: Database, persona_id: uuid.UUID, verdict: str | None = None) -> list[Label]:
    out: list[Label] = []
    for bucket in range(BUCKETS):
        rows = db.execute("SELECT * FROM labels_by_persona WHERE persona_id = ? AND bucket = ?", (persona_id, bucket))
        out.extend(_row(r) for r in rows if verdict is None or r.verdict == verdict)
    out.sort(key=lambda lab: lab.labeled_at or datetime.min.replace(tzinfo=UTC), reverse=True)
    return out


def all_labels(db: Database, persona_ids: list[uuid.UUID]) -> list[Label]:
    return [label for pid in persona_ids for label in for_persona(db, pid)]


def scan_for_training(db: Database, persona_ids: Iterable[uuid.UUID], page_size: int = 5000) -> list[Label]:
    """Every label of ``persona_ids`` (face, persona, verdict): one paged read of ``labels_by_persona``
    (a few dozen pages for 100k labels), not one read per persona and bucket. Labels of other personas
    (deleted ones) are left out."""
    wanted = set(persona_ids)
    rows = db.execute("SELECT persona_id, face_id, verdict FROM labels_by_persona", fetch_size=page_size)
    return [Label(r.face_id, r.persona_id, r.verdict) for r in rows if r.persona_id in wanted]


def of_persona(db: Database, persona_id: uuid.UUID, limit: int) -> list[Label]:
    """A persona's labels from all its buckets in one read (at most ``limit``), in no particular order."""
    rows = db.execute("SELECT * FROM labels_by_persona WHERE persona_id = ? AND bucket IN ? LIMIT ?",
                      (persona_id, list(range(BUCKETS)), limit))  # fmt: skip
    return [_row(r) for r in rows]


def of_personas(db: Database, persona_ids: Sequence[uuid.UUID]) -> list[list[Label]]:
    """Per persona, in order, its labels (face, verdict and time only): one round of concurrent reads."""
    cql = "SELECT face_id, verdict, labeled_at FROM labels_by_persona WHERE persona_id = ? AND bucket IN ?"
    buckets = list(range(BUCKETS))
    results = db.concurrently([(cql, (persona_id, buckets)) for persona_id in persona_ids])
    return [[Label(r.face_id, persona_id, r.verdict, "", r.labeled_at) for r in rows]
            for persona_id, rows in zip(persona_ids, results, strict=True)]  # fmt: skip


def confirmed_among(db: Database, face_ids: list[str]) -> set[str]:
    """Those of ``face_ids`` confirmed as some persona: one round of concurrent ``IN`` reads."""
    cql = "SELECT face_id, verdict FROM labels_by_face WHERE face_id IN ?"
    return {r.face_id for rows in db.concurrently(in_statements(cql, face_ids)) for r in rows if r.verdict == CONFIRM}


def of_faces(db: Database, face_ids: Iterable[str]) -> dict[str, FaceLabels]:
    """Face id -> its verdicts (concurrent point reads of ``labels_by_face``, a bounded number in flight)."""
    ids = list(dict.fromkeys(face_ids))
    rows = read_many(db, "SELECT persona_id, verdict FROM labels_by_face WHERE face_id = ?", [(f,) for f in ids])
    out: dict[str, FaceLabels] = {}
    for face_id, found in zip(ids, rows, strict=True):
        verdicts = FaceLabels()
        for r in found:
            verdicts.add(r.persona_id, r.verdict)
        out[face_id] = verdicts
    return out


def of_faces_from_persona_partitions(db: Database, persona_ids: Sequence[uuid.UUID],
                                     wanted: set[str]) -> dict[str, FaceLabels]:  # fmt: skip
    """The verdicts of ``wanted`` faces, read as whole ``labels_by_persona`` partitions (few personas, many
    faces: fewer reads than ``of_faces``)."""
    keys = [(p, b) for p in persona_ids for b in range(BUCKETS)]
    cql = "SELECT face_id, persona_id, verdict FROM labels_by_persona WHERE persona_id = ? AND bucket = ?"
    out = {f: FaceLabels() for f in wanted}
    for found in read_many(db, cql, keys):
        for r in found:
            verdicts = out.get(r.face_id)
            if verdicts is not None:
                verdicts.add(r.persona_id, r.verdict)
    return out
