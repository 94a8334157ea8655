"""Numbered CQL migrations (``migrations/NNNN_name.cql``), applied once each and recorded."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cassandra import InvalidRequest
from cassandra.cluster import Session

from common.db.retry import call_with_backoff
from common.infra.settings import CassandraFlavor

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.cql$")
_KEYSPACE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,47}$")


class MigrationError(RuntimeError):
    pass


# Cosmos DB for Apache Cassandra keeps one timestamp per row unless a table is created with these options,
# which its documentation asks of every table written with lightweight transactions (``IF NOT EXISTS``,
# ``IF column = …``); ``USING TIMESTAMP`` writes need them to be compared cell by cell, as Cassandra does.
# They are given when the table is created (a migration's text stays the same for every flavor, and so
# does its checksum). ``tests/unit/common/test_cql_is_cosmos_safe.py`` finds every such write in the code
# and fails when its table is missing here.
COSMOS_CELL_TIMESTAMPS = (
    "cosmosdb_cell_level_timestamp=true AND cosmosdb_cell_level_timestamp_tombstones=true "
    "AND cosmosdb_cell_level_timetolive=true"
)
CELL_TIMESTAMP_TABLES = frozenset(
    {
        "persona_names",
        "images",
        "faces_by_image",
        "sequences",
        "ingest_jobs",
        "undone_events",
        "ingest_job_tally",
        "face_cell_codebooks",
    }
)
_CREATE_TABLE = re.compile(r"\s*CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+(\w+)", re.I)


def for_flavor(statement: str, flavor: CassandraFlavor) -> str:
    """The DDL statement as ``flavor`` needs it: on Cosmos DB, the tables above are created with
    :data:`COSMOS_CELL_TIMESTAMPS`; everything else, and every statement on Apache Cassandra, as written."""
    created = _CREATE_TABLE.match(statement)
    if flavor is not CassandraFlavor.cosmos or not created or created.group(1).lower() not in CELL_TIMESTAMP_TABLES:
        return statement
    joiner = " AND " if re.search(r"\)\s*WITH\s", statement, re.I) else " WITH "
    return f"{statement}{joiner}{COSMOS_CELL_TIMESTAMPS}"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text()

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def statements(self) -> list[str]:
        return split_statements(self.text)


def split_statements(text: str) -> list[str]:
    lines = [line for line in text.splitlines() if not line.strip().startswith("--")]
    body = "\n".join(line.split(" --")[0] for line in lines)
    return [s.strip() for s in body.split(";") if s.strip()]


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.cql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file {path.name} is not named NNNN_name.cql")
        found.append(Migration(int(match.group(1)), match.group(2), path))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migrations must be numbered 1..N without gaps, found {versions}")
    return found


def ensure_keyspace(session: Session, keyspace: str, replication: str) -> None:
    if not _KEYSPACE.match(keyspace):
        raise MigrationError(f"invalid keyspace name {keyspace!r}")
    call_with_backoff(
        lambda: session.execute(f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {replication}"),
        6,
    )


def applied_versions(session: Session, keyspace: str) -> dict[int, str]:
    session.execute(
        f"CREATE TABLE IF NOT EXISTS {keyspace}.schema_migrations "
        "(version int PRIMARY KEY, name text, checksum text, applied_at timestamp)"
    )
    rows = session.execute(f"SELECT version, checksum FROM {keyspace}.schema_migrations")
    return {row.version: row.checksum for row in rows}


def _execute_idempotently(session: Session, statement: str) -> None:
    """Run one DDL statement; an ``ALTER TABLE … ADD`` whose column exists (a re-run after a
    partial failure) counts as done. ``CREATE … IF NOT EXISTS`` is idempotent by itself."""
    try:
        call_with_backoff(lambda: session.execute(statement, timeout=120), 6)
    except InvalidRequest as exc:
        adds_column = re.match(r"\s*ALTER\s+TABLE\s+\S+\s+ADD\b", statement, re.I)
        if not (adds_column and re.search(r"already exist|conflicts with an existing column", str(exc), re.I)):
            raise


def migrate(
    session: Session,
    keyspace: str,
    replication: str,
    directory: Path = MIGRATIONS_DIR,
    flavor: CassandraFlavor = CassandraFlavor.apache,
) -> list[str]:
    """Apply every migration not yet recorded; return the names applied (empty when current). ``flavor``:
    the database's (the settings' ``cassandra_flavor``), for the table options it needs (:func:`for_flavor`)."""
    ensure_keyspace(session, keyspace, replication)
    session.set_keyspace(keyspace)
    done = applied_versions(session, keyspace)
    applied = []
    for migration in discover(directory):
        if migration.version in done:
            if done[migration.version] != migration.checksum:
                raise MigrationError(
                    f"migration {migration.path.name} changed after it was applied; add a new migration instead"
                )
            continue
        log.info("applying migration %s", migration.path.name)
        for statement in migration.statements():
            _execute_idempotently(session, for_flavor(statement, flavor))
        session.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (%s, %s, %s, %s)",
            (migration.version, migration.name, migration.checksum, datetime.now(UTC)),
        )
        applied.append(migration.path.name)
    return applied
