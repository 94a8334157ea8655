"""The one handle every service uses for Cassandra: prepared statements, backoff, batches."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import Any

from cassandra.cluster import Cluster, ResultSet, Session
from cassandra.concurrent import execute_concurrent, execute_concurrent_with_args
from cassandra.query import BatchStatement, BatchType, PreparedStatement, SimpleStatement

from common.db.retry import call_with_backoff
from common.db.session import connect
from common.infra.settings import Settings

BATCH_ROWS = 50  # rows per batch of execute_batches, by default
BATCH_BYTES = 32 * 1024  # and bytes of values: under Cassandra's default 50 KiB batch_size_fail_threshold
Row = Sequence[Any]


def _value_bytes(row: Row) -> int:
    return sum(len(v) if isinstance(v, str | bytes) else 16 for v in row)


def _pieces(group: list[Row], max_rows: int, max_bytes: int) -> Iterator[tuple[list[Row], int]]:
    """(rows, bytes) of ``group`` cut at ``max_rows`` rows and (but for a single larger row) ``max_bytes``."""
    piece: list[Row] = []
    size = 0
    for row in group:
        row_size = _value_bytes(row)
        if piece and (len(piece) >= max_rows or size + row_size > max_bytes):
            yield piece, size
            piece, size = [], 0
        piece.append(row)
        size += row_size
    if piece:
        yield piece, size


def partition_chunks(rows: Iterable[Row], partition_of: Callable[[Row], Hashable], max_partitions: int = 1,
                     max_rows: int = BATCH_ROWS, max_bytes: int = BATCH_BYTES) -> list[list[Row]]:  # fmt: skip
    """``rows`` in chunks of at most ``max_partitions`` partitions, ``max_rows`` rows and (but for a single
    larger row) ``max_bytes`` bytes of values; a partition's rows stay together where they fit."""
    groups: dict[Hashable, list[Row]] = {}
    for row in rows:
        groups.setdefault(partition_of(row), []).append(row)
    chunks: list[list[Row]] = []
    chunk: list[Row] = []
    size = parts = 0
    for group in groups.values():
        for piece, piece_size in _pieces(group, max_rows, max_bytes):
            full = parts >= max_partitions or len(chunk) + len(piece) > max_rows or size + piece_size > max_bytes
            if chunk and full:
                chunks.append(chunk)
                chunk, size, parts = [], 0, 0
            chunk.extend(piece)
            size, parts = size + piece_size, parts + 1
    if chunk:
        chunks.append(chunk)
    return chunks


class Database:
    def __init__(self, cluster: Cluster, session: Session, keyspace: str, overload_retries: int = 6):
        self.cluster = cluster
        self.session = session
        self.keyspace = keyspace
        self.overload_retries = overload_retries
        self._prepared: dict[str, PreparedStatement] = {}
        self._lock = threading.Lock()

    @classmethod
    def connect(cls, settings: Settings, keyspace: str | None = None) -> Database:
        keyspace = keyspace or settings.cassandra_keyspace
        cluster, session = connect(settings, keyspace)
        return cls(cluster, session, keyspace, settings.cassandra_overload_retries)

    def prepare(self, cql: str) -> PreparedStatement:
        stmt = self._prepared.get(cql)
        if stmt is None:
            with self._lock:
                stmt = self._prepared.get(cql)
                if stmt is None:
                    stmt = call_with_backoff(lambda: self.session.prepare(cql), self.overload_retries)
                    self._prepared[cql] = stmt
        return stmt

    def execute(self, cql: str, params: Sequence[Any] | None = None, fetch_size: int | None = None) -> ResultSet:
        """Run one statement (prepared when it has parameters), backing off on overload."""
        if params is None:
            stmt: Any = SimpleStatement(cql, fetch_size=fetch_size)
            return call_with_backoff(lambda: self.session.execute(stmt), self.overload_retries)
        prepared = self.prepare(cql)
        bound = prepared.bind(params)
        if fetch_size:
            bound.fetch_size = fetch_size
        return call_with_backoff(lambda: self.session.execute(bound), self.overload_retries)

    def one(self, cql: str, params: Sequence[Any] | None = None) -> Any:
        return self.execute(cql, params).one()

    def execute_many(self, cql: str, rows: Iterable[Sequence[Any]], concurrency: int = 32) -> None:
        """The same statement for many parameter tuples, concurrently; raises on the first failure."""
        prepared = self.prepare(cql)
        rows = list(rows)
        if not rows:
            return

        def run() -> None:
            results = execute_concurrent_with_args(self.session, prepared, rows, concurrency=concurrency)
            for ok, result in results:
                if not ok:
                    raise result

        call_with_backoff(run, self.overload_retries)

    def execute_batches(self, cql: str, rows: Iterable[Row], partition_of: Callable[[Row], Hashable],
                        max_partitions: int = 1, max_rows: int = BATCH_ROWS) -> None:  # fmt: skip
        """The same idempotent statement for many rows as UNLOGGED batches (:func:`partition_chunks`;
        ``partition_of`` gives a row's partition key), run concurrently: a round trip per batch, not per row
        (10k rows of one table: about 0.1 s against 0.9 s). A batch is no transaction: a failure retries the
        whole call, which the writes being idempotent allows."""
        prepared = self.prepare(cql)
        batches = []
        for chunk in partition_chunks(rows, partition_of, max_partitions, max_rows):
            batch = BatchStatement(batch_type=BatchType.UNLOGGED)
            for row in chunk:
                batch.add(prepared, row)
            batches.append((batch, ()))
        if not batches:
            return

        def run() -> None:
            execute_concurrent(self.session, batches, concurrency=16, raise_on_first_error=True)

        call_with_backoff(run, self.overload_retries)

    def concurrently(self, statements: list[tuple[str, Sequence[Any]]]) -> list[list]:
        """Run single-partition statements at the same time (one round trip of latency, not N); rows per
        statement, in order. Retried as a whole when Cassandra / Cosmos DB says it is overloaded."""
        if not statements:
            return []
        bound = [self.prepare(cql).bind(params) for cql, params in statements]

        def run() -> list[list]:
            futures = [self.session.execute_async(stmt) for stmt in bound]
            return [list(future.result()) for future in futures]

        return call_with_backoff(run, self.overload_retries)

    def unlogged_batch(self, statements: Iterable[tuple[str, Sequence[Any]]]) -> None:
        """One UNLOGGED batch (Cosmos DB accepts no other kind); keep it to one partition when you can."""
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        for cql, params in statements:
            batch.add(self.prepare(cql), params)
        call_with_backoff(lambda: self.session.execute(batch), self.overload_retries)

    def ping(self) -> bool:
        self.session.execute("SELECT release_version FROM system.local", timeout=3)
        return True

    def close(self) -> None:
        self.cluster.shutdown()
