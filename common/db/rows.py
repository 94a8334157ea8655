"""Rows as named tuples, with one tuple class per column list (not one per result).

The driver's default ``named_tuple_factory`` builds a new ``namedtuple`` class for every result
set; that class creation cost more than decoding the rows themselves on a page that reads a handful
of partitions (about 12% of a web worker's CPU under load). The rows behave the same (attribute and
index access, ``_asdict``); only the class is shared between results with the same columns.
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Sequence
from typing import Any

from cassandra.query import named_tuple_factory

ROW_CLASSES = 1024  # distinct column lists kept; the app has a few dozen queries


@functools.lru_cache(maxsize=ROW_CLASSES)
def _row_class(colnames: tuple[str, ...]) -> type | None:
    try:
        return namedtuple("Row", colnames)
    except ValueError:
        return None  # names a namedtuple refuses (keywords, "1st"): the driver's factory cleans them


def cached_named_tuple_factory(colnames: Sequence[str], rows: Sequence[Sequence[Any]]) -> list:
    row = _row_class(tuple(colnames))
    if row is None:
        return named_tuple_factory(colnames, rows)
    return [row(*values) for values in rows]
