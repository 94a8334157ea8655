"""Which personas' predictions are current: read from the refreshes of the newest promotions."""

from __future__ import annotations

import uuid

import pytest

from common.repositories import refreshes

pytestmark = pytest.mark.integration

A, B, C = (uuid.UUID(int=n) for n in (1, 2, 3))


def test_personas_of_unfinished_scoped_refreshes_are_pending_until_they_finish(clean_tables):
    db = clean_tables
    assert refreshes.pending_personas(db, None) == frozenset()
    refreshes.started(db, 1, None, "full", None)
    assert refreshes.pending_personas(db, 1) is None  # a full pass runs: nobody is current
    refreshes.finished(db, 1, 100, 0)
    assert refreshes.pending_personas(db, 1) == frozenset()
    refreshes.started(db, 2, 1, "scoped", {A})
    refreshes.started(db, 3, 2, "scoped", {B})
    assert refreshes.pending_personas(db, 3) == {A, B}
    refreshes.finished(db, 2, 10)
    assert refreshes.pending_personas(db, 3) == {B}
    refreshes.finished(db, 3, 12)
    assert refreshes.pending_personas(db, 3) == frozenset()
    refreshes.started(db, 4, 3, "audit", None)  # an audit pass leaves every persona current
    assert refreshes.pending_personas(db, 4) == frozenset()
    assert refreshes.get(db, 3).touches(B) and not refreshes.get(db, 3).touches(C)


def test_a_refresh_of_very_many_personas_is_stored_as_all_of_them(clean_tables):
    db = clean_tables
    many = {uuid.uuid4() for _ in range(refreshes.MAX_PERSONAS + 1)}
    refreshes.started(db, 7, 6, "scoped", many)
    assert refreshes.get(db, 7).personas is None and refreshes.pending_personas(db, 7) is None
