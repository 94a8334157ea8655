"""Batches stay within one partition and under Cassandra's batch size limit, and lose no row."""

from __future__ import annotations

from common.db.database import BATCH_BYTES, BATCH_ROWS, partition_chunks


def test_every_row_lands_once_in_a_chunk_of_its_own_partition():
    rows = [(7, i % 3, f"persona-{i}", "{}") for i in range(400)]
    chunks = partition_chunks(rows, lambda row: row[:2])
    assert sorted(row for chunk in chunks for row in chunk) == sorted(rows)
    assert all(len({row[:2] for row in chunk}) == 1 for chunk in chunks)
    assert all(len(chunk) <= BATCH_ROWS for chunk in chunks)
    assert len(chunks) == 3 * -(-134 // BATCH_ROWS)  # 134 or 133 rows a partition


def test_large_rows_make_smaller_chunks_and_a_row_over_the_cap_goes_alone():
    big = "x" * (BATCH_BYTES // 4)
    rows = [(1, 0, f"p{i}", big) for i in range(10)] + [(1, 0, "huge", "y" * (BATCH_BYTES * 2))]
    chunks = partition_chunks(rows, lambda row: row[:2])
    assert [len(chunk) for chunk in chunks] == [3, 3, 3, 1, 1]
    assert chunks[-1][0][2] == "huge"


def test_small_partitions_share_a_batch_up_to_the_partition_and_row_caps():
    rows = [(f"face-{i}", 0.5) for i in range(30)] + [("busy", n) for n in range(25)]
    chunks = partition_chunks(rows, lambda row: row[0], max_partitions=10, max_rows=20)
    assert sorted(row for chunk in chunks for row in chunk) == sorted(rows)
    assert [len(chunk) for chunk in chunks] == [10, 10, 10, 20, 5]
    assert all(len({row[0] for row in chunk}) <= 10 for chunk in chunks)
