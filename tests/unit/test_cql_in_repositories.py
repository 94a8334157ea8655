"""Every CQL statement lives in a repository module (or in the schema tooling), so each table has one owner.

Scattered statements are where denormalised copies of a row (the face and image cards) drift apart: a table
read or written by two modules has two ideas of what its rows mean. This test scans the string literals of the
code (with ``ast``: f-strings by their constant parts) and lists every statement found anywhere else.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("common", "input_worker", "trainer_worker", "visualization_web")
# Where CQL belongs: the repositories, and the schema tooling (migrations, migrate.py, the Database class).
ALLOWED = ("common/repositories/", "common/db/")

_NAME = r"[A-Za-z_][\w.]*"
_COLUMN = rf"(?:\*|\{{\}}|COUNT\(\*\)|{_NAME}(?:\([^)]*\)|\[[^\]]*\])?)(?:\s+AS\s+\w+)?"
_TABLE = rf"(?:\{{\}}|{_NAME})(?:\.(?:\{{\}}|{_NAME}))?"
_END = r"(?:\s+(?:WHERE|LIMIT|USING|IF)\b|\s*;?\s*\Z)"  # what follows the table in a statement
# A literal that starts (after whitespace) with a statement keyword followed by text shaped like CQL;
# prose such as "Select the faces from an image" or "update the card" does not have that shape.
CQL = re.compile(
    rf"""\A\s*(?:
        SELECT\s+{_COLUMN}(?:\s*,\s*{_COLUMN})*\s+FROM\s+{_TABLE}{_END}
      | INSERT\s+INTO\s+{_TABLE}\s*\(
      | UPDATE\s+{_TABLE}\s+(?:USING\s+\w+\s+\S+\s+)?SET\s
      | DELETE\s+(?:{_COLUMN}(?:\s*,\s*{_COLUMN})*\s+)?FROM\s+{_TABLE}{_END}
      | TRUNCATE\s+(?:TABLE\s+)?{_TABLE}\s*;?\s*\Z
      | CREATE\s+(?:TABLE|KEYSPACE|TYPE|(?:CUSTOM\s+)?INDEX)\s+(?:IF\s+NOT\s+EXISTS\s+)?{_TABLE}
      | ALTER\s+TABLE\s+{_TABLE}\s+(?:ADD|DROP|WITH|ALTER|RENAME)\b
      | BEGIN\s+(?:UNLOGGED\s+|COUNTER\s+)?BATCH\b
    )""",
    re.IGNORECASE | re.VERBOSE,
)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes: prose by definition, never sent to Cassandra."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _parts(node: ast.expr, chain: set[int]) -> list[ast.expr]:
    """The operands of a chain of ``+`` (a statement built from pieces) and of f-strings, left to right;
    ``chain`` collects the nodes read, so that no piece is read again on its own."""
    chain.add(id(node))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _parts(node.left, chain) + _parts(node.right, chain)
    if isinstance(node, ast.JoinedStr):
        return [part for value in node.values for part in _parts(value, chain)]
    return [node]


def _literals(tree: ast.AST):
    """(line, text) of each string literal; an f-string or a ``+`` chain of strings is read as its constant
    parts joined with ``{}`` for each computed part."""
    skip = _docstrings(tree)
    consumed: set[int] = set()
    for node in ast.walk(tree):  # outer nodes come before the nodes inside them
        if id(node) in consumed or not isinstance(node, ast.BinOp | ast.JoinedStr):
            continue
        chain: set[int] = set()
        parts = _parts(node, chain)
        texts = [p.value if isinstance(p, ast.Constant) and isinstance(p.value, str) else "{}" for p in parts]
        if any(text != "{}" for text in texts):
            consumed |= chain
            yield node.lineno, "".join(texts)
    for node in ast.walk(tree):
        is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if is_text and id(node) not in skip and id(node) not in consumed:
            yield node.lineno, node.value


def cql_outside_repositories() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith(ALLOWED):
                continue
            tree = ast.parse(path.read_text(), filename=relative)
            for line, text in _literals(tree):
                if CQL.match(text):
                    found.append((relative, line, " ".join(text.split())[:80]))
    return [f"{path}:{line}: {text}" for path, line, text in sorted(found)]


def test_no_cql_outside_repositories_and_migrations():
    offences = cql_outside_repositories()
    assert offences == [], "CQL outside common/repositories/ and common/db/:\n" + "\n".join(offences)


def test_the_scan_recognises_statements_and_not_prose():
    statements = [
        "SELECT * FROM faces WHERE face_id = ?",
        "  select face_id, box_left FROM faces_by_image WHERE image_id = ?",
        "SELECT COUNT(*) AS n FROM images",
        "SELECT {} FROM faces WHERE face_id IN ?",
        "INSERT INTO users (username, role) VALUES (?, ?)",
        "UPDATE model_versions SET status = ? WHERE bucket = ? AND version = ?",
        "UPDATE images USING TIMESTAMP ? SET status = ? WHERE image_id = ?",
        "DELETE FROM api_tokens WHERE token_hash = ?",
        "DELETE label_verdicts[?] FROM faces_by_image WHERE image_id = ?",
        "TRUNCATE faces",
        "CREATE TABLE IF NOT EXISTS x (a int PRIMARY KEY)",
        "ALTER TABLE faces ADD vanished_at timestamp",
        "BEGIN UNLOGGED BATCH",
        "SELECT version, checksum FROM {}.schema_migrations",
        "CREATE KEYSPACE IF NOT EXISTS {} WITH replication = {}",
    ]
    prose = [
        "Select the faces from one image",
        "update the card when the label changes",
        "Delete from the list what was erased",
        "insert into the queue",
        "SELECT",
        "truncate the name to 40 characters",
        "Begin batches with care",
    ]
    assert [s for s in statements if not CQL.match(s)] == []
    assert [p for p in prose if CQL.match(p)] == []


def test_fstrings_and_built_statements_are_scanned_by_their_constant_parts():
    source = """
cql = f"SELECT {COLUMNS} FROM faces WHERE face_id IN ?"
built = ("DELETE " + ", ".join(columns) + " FROM faces_by_image WHERE image_id = ?")
other = "UPDATE " + f"{table} SET a = ?" + " WHERE k = ?"
def f():
    \"\"\"SELECT * FROM faces is how the docstring starts.\"\"\"
"""
    found = [(line, text) for line, text in _literals(ast.parse(source)) if CQL.match(text)]
    assert sorted(found) == [
        (2, "SELECT {} FROM faces WHERE face_id IN ?"),
        (3, "DELETE {} FROM faces_by_image WHERE image_id = ?"),
        (4, "UPDATE {} SET a = ? WHERE k = ?"),
    ]
