"""Corpus counts: counted once and shared through Redis, recounted in the background when stale, by one
process at a time; without Redis, counted on the request."""

from __future__ import annotations

import time

import pytest

from common.infra import redis_client as redis_state
from common.infra.local_services.processes import wait_until
from tests.support import seed
from visualization_web import corpus_counts


@pytest.fixture
def corpus(clean_tables, redis_client):
    seed.seed_faces(clean_tables, 3, seed.centers(1)[0], per_image=3)
    return clean_tables


def _add_faces(db) -> None:
    seed.seed_faces(db, 2, seed.centers(2)[1], seed=2, per_image=2, name_prefix="more")


def test_the_first_view_counts_and_later_views_share_that_count(corpus, redis_client):
    first = corpus_counts.current(corpus, max_age=60)
    assert first.values["images"] == 1 and first.values["faces"] == 3
    assert redis_client.exists(f"pp:{corpus.keyspace}:corpus-counts")  # every web process reads this one
    _add_faces(corpus)
    again = corpus_counts.current(corpus, max_age=60)
    assert again == first  # not counted again within max_age


def test_a_stale_count_is_shown_while_the_next_one_is_made_in_the_background(corpus):
    corpus_counts.current(corpus, max_age=60)
    _add_faces(corpus)
    started = time.monotonic()
    shown = corpus_counts.current(corpus, max_age=0)
    assert shown.values["faces"] == 3  # the view did not wait for the recount
    assert time.monotonic() - started < 0.5
    assert wait_until(lambda: corpus_counts.current(corpus, max_age=60).values["faces"] == 5, timeout=30)


def test_only_one_process_recounts_at_a_time(corpus, redis_client):
    corpus_counts.current(corpus, max_age=60)
    _add_faces(corpus)
    lock = f"pp:{corpus.keyspace}:corpus-counts:counting"
    redis_client.set(lock, "another process")
    corpus_counts.current(corpus, max_age=0)
    time.sleep(1.5)
    assert corpus_counts.current(corpus, max_age=60).values["faces"] == 3  # no second count started
    redis_client.delete(lock)
    corpus_counts.current(corpus, max_age=0)
    assert wait_until(lambda: corpus_counts.current(corpus, max_age=60).values["faces"] == 5, timeout=30)
    assert wait_until(lambda: not redis_client.exists(lock), timeout=10)  # released once the count was stored


def test_while_another_process_makes_the_first_count_the_view_says_so(corpus, redis_client):
    redis_client.set(f"pp:{corpus.keyspace}:corpus-counts:counting", "another process")
    assert corpus_counts.current(corpus, max_age=60) is None


def test_without_redis_the_process_counts_on_the_request(corpus, monkeypatch):
    monkeypatch.setattr(redis_state, "_down_until", time.monotonic() + 60)  # as after a failed command
    assert corpus_counts.current(corpus, max_age=0).values["faces"] == 3
    _add_faces(corpus)
    assert corpus_counts.current(corpus, max_age=0).values["faces"] == 5
