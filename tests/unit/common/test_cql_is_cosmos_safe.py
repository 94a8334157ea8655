"""The schema and every query in the code use only CQL that Cosmos DB for Apache Cassandra accepts."""

import re
from pathlib import Path

from common.db.migrate import CELL_TIMESTAMP_TABLES, discover, split_statements

ROOT = Path(__file__).resolve().parents[3]
FORBIDDEN = {
    "materialized view": re.compile(r"MATERIALIZED\s+VIEW", re.I),
    "user-defined function": re.compile(r"CREATE\s+(OR\s+REPLACE\s+)?(FUNCTION|AGGREGATE)", re.I),
    "secondary/SASI index": re.compile(r"CREATE\s+(CUSTOM\s+)?INDEX", re.I),
    "DISTINCT": re.compile(r"SELECT\s+DISTINCT", re.I),
    "ALLOW FILTERING": re.compile(r"ALLOW\s+FILTERING", re.I),
    "logged batch": re.compile(r"BEGIN\s+(?!UNLOGGED)(\w+\s+)?BATCH", re.I),
}


def _sources():
    for package in ("common", "input_worker", "trainer_worker", "visualization_web"):
        yield from (ROOT / package).rglob("*.py")
    yield from (ROOT / "common/db/migrations").glob("*.cql")


def test_no_cql_that_cosmos_refuses():
    offences = []
    for path in _sources():
        text = path.read_text()
        if path.suffix == ".cql":
            text = "\n".join(split_statements(text))  # comments may name what is not used
        for what, pattern in FORBIDDEN.items():
            if pattern.search(text) and path.name != "test_cql_is_cosmos_safe.py":
                offences.append(f"{path.relative_to(ROOT)}: {what}")
    assert offences == []


def test_migrations_are_numbered_and_idempotent_statements():
    migrations = discover()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    for migration in migrations:
        for statement in split_statements(migration.text):
            assert re.match(r"CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS|ALTER\s+TABLE", statement, re.I), statement


def test_every_table_has_a_row_in_the_data_model_doc():
    doc = (ROOT / "docs/data-model.md").read_text()
    for migration in discover():
        for table in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", migration.text):
            assert f"`{table}`" in doc, f"docs/data-model.md does not describe {table}"


# A write with a condition (lightweight transaction) or with its own timestamp, and the table it writes.
CONDITIONAL_WRITE = re.compile(
    r"(?:INSERT INTO|UPDATE|DELETE FROM) (\w+)\b(?:(?!INSERT INTO|UPDATE |DELETE |SELECT )[^;]){0,400}?"
    r"\bIF (?:NOT EXISTS|EXISTS|\w+ = )"
)
TIMESTAMPED_WRITE = re.compile(r"\b(\w+) USING TIMESTAMP\b")  # also a statement built by replacing "<table> SET"


def test_tables_written_with_conditions_or_timestamps_are_created_with_cell_timestamps_on_cosmos():
    """Cosmos DB asks for cell-level timestamps on such tables (common/db/migrate.py); a new conditional
    write on another table must add it there."""
    found: dict[str, str] = {}
    for path in _sources():
        if path.suffix != ".py":
            continue
        text = path.read_text()
        for pattern in (CONDITIONAL_WRITE, TIMESTAMPED_WRITE):
            for table in pattern.findall(text):
                found.setdefault(table, str(path.relative_to(ROOT)))
    assert {"images", "persona_names", "sequences", "faces_by_image"} <= set(found)  # the scan still sees them
    missing = {table: where for table, where in found.items() if table not in CELL_TIMESTAMP_TABLES}
    assert missing == {}
