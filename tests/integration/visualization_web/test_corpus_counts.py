"""Corpus counts: read from the counters writes keep (no table is counted on a view), shown on the dashboard
with the age of the last exact count; a fresh keyspace shows zeros; Redis is not needed."""

from __future__ import annotations

import re
import time

import pytest

from common.infra import redis_client as redis_state
from common.repositories import corpus_counters, jobs
from tests.support import seed
from trainer_worker import corpus_reconcile
from visualization_web import corpus_counts

pytestmark = pytest.mark.integration


@pytest.fixture
def corpus(clean_tables, redis_client):
    seed.seed_faces(clean_tables, 3, seed.centers(1)[0], per_image=3)
    return clean_tables


def _add_faces(db) -> None:
    seed.seed_faces(db, 2, seed.centers(2)[1], seed=2, per_image=2, name_prefix="more")


def test_a_fresh_keyspace_shows_zeros_and_no_exact_count_yet(clean_tables):
    counts = corpus_counts.current(clean_tables)
    assert counts.values == {"images": 0, "faces": 0, "personas": 0, "confirmed": 0, "predicted": 0, "unknown": 0,
                             "rejected_files": 0}  # fmt: skip
    assert counts.age() is None


def test_every_view_sees_the_writes_at_once(corpus):
    first = corpus_counts.current(corpus)
    assert (first.values["images"], first.values["faces"]) == (1, 3)
    _add_faces(corpus)
    assert (corpus_counts.current(corpus).values["images"], corpus_counts.current(corpus).values["faces"]) == (2, 5)


def test_the_age_is_that_of_the_last_reconcile(corpus):
    corpus_counters.add(corpus, "faces", 10)  # drift
    assert corpus_counts.current(corpus).values["faces"] == 13
    corpus_reconcile.reconcile(corpus)
    counts = corpus_counts.current(corpus)
    assert counts.values["faces"] == 3 and 0 <= counts.age() < 60


def test_rejected_files_are_those_of_recent_jobs(corpus):
    jobs.create(corpus, "job-1", "/photos", "test", {})
    jobs.record_outcome(corpus, "job-1", "a.jpg", "a.jpg", jobs.REJECTED, reason="not an image")
    corpus_counts.forget(corpus.keyspace)  # the per-process copy of the last read
    assert corpus_counts.current(corpus).values["rejected_files"] == 1


def test_without_redis_the_counts_are_read_all_the_same(corpus, monkeypatch):
    monkeypatch.setattr(redis_state, "_down_until", time.monotonic() + 60)  # as after a failed command
    _add_faces(corpus)
    assert corpus_counts.current(corpus).values["faces"] == 5


def test_the_dashboard_shows_the_counters_and_when_they_were_counted_exactly(login, web_db):
    seed.seed_faces(web_db, 3, seed.centers(1)[0], per_image=3)
    browser = login("viewer")
    html = browser.get("/").get_data(as_text=True)
    assert '<span class="n">3</span><span class="l">faces</span>' in html
    assert re.search(r"Kept on write; not counted exactly yet \(every \d+ s\)", html)
    corpus_counters.add(web_db, "faces", 4)  # drift, corrected by the reconcile
    assert '<span class="n">7</span><span class="l">faces</span>' in browser.get("/").get_data(as_text=True)
    corpus_reconcile.reconcile(web_db)
    html = browser.get("/").get_data(as_text=True)
    assert '<span class="n">3</span><span class="l">faces</span>' in html
    assert re.search(r"Kept on write; counted exactly \d+ s ago \(every \d+ s\)", html)
