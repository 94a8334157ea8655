"""Rows as named tuples with one class per column list: same behaviour as the driver's default factory."""

from __future__ import annotations

from cassandra.query import named_tuple_factory

from common.db.rows import cached_named_tuple_factory


def test_rows_read_like_the_drivers_and_share_one_class_per_column_list():
    first = cached_named_tuple_factory(["face_id", "score"], [("f1", 0.5), ("f2", 0.75)])
    again = cached_named_tuple_factory(["face_id", "score"], [("f3", 0.25)])
    assert [(r.face_id, r.score) for r in first] == [("f1", 0.5), ("f2", 0.75)]
    assert first[0]._asdict() == {"face_id": "f1", "score": 0.5} and first[1][1] == 0.75
    assert type(first[0]) is type(again[0])
    assert first == named_tuple_factory(["face_id", "score"], [("f1", 0.5), ("f2", 0.75)])


def test_column_names_a_tuple_cannot_take_are_cleaned_as_the_driver_does():
    applied = cached_named_tuple_factory(["[applied]", "image_id"], [(False, "abc")])
    assert applied[0].applied is False and applied[0].image_id == "abc"  # what an LWT answers
    counted = cached_named_tuple_factory(["count"], [(3,)])
    assert counted[0].count == 3
    assert cached_named_tuple_factory(["system.ttl(x)"], [(60,)])[0].system_ttl_x == 60


def test_an_empty_result_is_an_empty_list():
    assert cached_named_tuple_factory(["face_id"], []) == []
