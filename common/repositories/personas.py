"""Personas: people of interest, with unique names claimed by a lightweight transaction."""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from common.db import Database
from common.repositories import corpus_counters, read_model

BUCKET = 0
NAME_MAX = 80
_NAME_OK = re.compile(r"^[\w][\w .'\-()]*$", re.UNICODE)


class PersonaError(ValueError):
    """A request about personas that cannot be done (bad or taken name, unknown id)."""


class PersonaNotFound(PersonaError):
    pass


class NameTaken(PersonaError):
    pass


@dataclass(frozen=True)
class Persona:
    persona_id: uuid.UUID
    name: str
    created_at: datetime | None = None
    created_by: str = ""


def clean_name(name: str) -> str:
    name = unicodedata.normalize("NFC", (name or "").strip())
    name = re.sub(r"\s+", " ", name)
    if not name:
        raise PersonaError("persona name must not be empty")
    if len(name) > NAME_MAX:
        raise PersonaError(f"persona name must be at most {NAME_MAX} characters")
    if not _NAME_OK.match(name) or any(unicodedata.category(c).startswith("C") for c in name):
        raise PersonaError("persona name may hold letters, digits, spaces and . ' - ( ) _ only")
    if name.lower() == "unknown":
        raise PersonaError("'unknown' is reserved for faces without a persona")
    return name


def name_key(name: str) -> str:
    return clean_name(name).casefold()


def _claim_name(db: Database, name: str, persona_id: uuid.UUID) -> None:
    row = db.one(
        "INSERT INTO persona_names (name_key, persona_id) VALUES (?, ?) IF NOT EXISTS", (name_key(name), persona_id)
    )
    if not row.applied and row.persona_id != persona_id:
        raise NameTaken(f"a persona named {name!r} exists already")


def _release_name(db: Database, name: str, persona_id: uuid.UUID) -> None:
    db.execute("DELETE FROM persona_names WHERE name_key = ? IF persona_id = ?", (name_key(name), persona_id))


def create(db: Database, name: str, actor: str, persona_id: uuid.UUID | None = None) -> Persona:
    name = clean_name(name)
    persona_id = persona_id or uuid.uuid4()
    _claim_name(db, name, persona_id)
    now = datetime.now(UTC)
    db.execute(
        "INSERT INTO personas (bucket, persona_id, name, created_at, created_by) VALUES (?, ?, ?, ?, ?)",
        (BUCKET, persona_id, name, now, actor),
    )
    corpus_counters.add(db, corpus_counters.PERSONAS, 1)
    read_model.changed(db)
    return Persona(persona_id, name, now, actor)


def get(db: Database, persona_id: uuid.UUID) -> Persona:
    row = db.one("SELECT * FROM personas WHERE bucket = ? AND persona_id = ?", (BUCKET, persona_id))
    if row is None:
        raise PersonaNotFound(f"no persona {persona_id}")
    return Persona(row.persona_id, row.name, row.created_at, row.created_by or "")


def find_by_name(db: Database, name: str) -> Persona | None:
    row = db.one("SELECT persona_id FROM persona_names WHERE name_key = ?", (name_key(name),))
    if row is None:
        return None
    try:
        return get(db, row.persona_id)
    except PersonaNotFound:
        return None


def list_all(db: Database) -> list[Persona]:
    rows = db.execute("SELECT * FROM personas WHERE bucket = ?", (BUCKET,))
    personas = [Persona(r.persona_id, r.name, r.created_at, r.created_by or "") for r in rows]
    return sorted(personas, key=lambda p: p.name.casefold())


def rename(db: Database, persona_id: uuid.UUID, new_name: str) -> tuple[Persona, str]:
    """Returns the renamed persona and the old name."""
    current = get(db, persona_id)
    new_name = clean_name(new_name)
    if name_key(new_name) != name_key(current.name):
        _claim_name(db, new_name, persona_id)
        _release_name(db, current.name, persona_id)
    db.execute("UPDATE personas SET name = ? WHERE bucket = ? AND persona_id = ?", (new_name, BUCKET, persona_id))
    read_model.changed(db)
    return Persona(persona_id, new_name, current.created_at, current.created_by), current.name


def delete(db: Database, persona_id: uuid.UUID) -> Persona:
    current = get(db, persona_id)
    db.execute("DELETE FROM personas WHERE bucket = ? AND persona_id = ?", (BUCKET, persona_id))
    _release_name(db, current.name, persona_id)
    corpus_counters.add(db, corpus_counters.PERSONAS, -1)  # ``current`` was read: it existed
    read_model.changed(db)
    return current
