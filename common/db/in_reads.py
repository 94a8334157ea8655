"""Multi-partition ``IN`` reads, chunked: one request per hundred keys instead of one per key."""

from __future__ import annotations

IN_CHUNK = 100  # keys per multi-partition IN read: one request instead of a hundred, a bounded fan-out


def in_statements(cql: str, keys: list) -> list[tuple[str, tuple]]:
    """``cql`` ends in ``IN ?``: one statement per chunk of distinct keys."""
    keys = list(dict.fromkeys(keys))
    return [(cql, (keys[lo : lo + IN_CHUNK],)) for lo in range(0, len(keys), IN_CHUNK)]
