"""Ingest job progress: tallies moved once per item (redelivery-safe) while a job runs, one row once it is done."""

from __future__ import annotations

from common.repositories import jobs


def _job_with_two_items(db, job_id: str) -> None:
    jobs.create(db, job_id, "/photos", "alice")
    jobs.set_discovered(db, job_id, 2)
    jobs.record_outcome(db, job_id, "a.jpg", "a.jpg", jobs.STORED, image_id="img-a")
    jobs.record_outcome(db, job_id, "b.txt", "b.txt", jobs.REJECTED, reason="not an image")


def _totals_column(db, job_id: str):
    return db.one("SELECT totals FROM ingest_jobs WHERE job_id = ?", (job_id,)).totals


def test_a_running_job_counts_its_items_and_a_done_job_keeps_its_counters_in_its_row(clean_tables):
    db = clean_tables
    _job_with_two_items(db, "job-1")
    running = jobs.progress(db, "job-1")
    assert not running.done and running.counts["stored"] == 1 and running.counts["extracted"] == 0
    assert _totals_column(db, "job-1") is None  # nothing frozen while work is pending

    jobs.record_extracted(db, "job-1", "a.jpg", 3)
    done = jobs.progress(db, "job-1")
    assert done.done
    expected = {"discovered": 2, "stored": 1, "duplicates": 0, "rejected": 1, "extracted": 1, "faces": 3}
    assert {k: done.as_dict()[k] for k in expected} == expected
    assert _totals_column(db, "job-1") is not None

    # From now on the job's row answers alone: a redelivered extraction records the same, and even with
    # its item rows gone the counters are those of the finished job.
    jobs.record_extracted(db, "job-1", "a.jpg", 3)
    db.execute("DELETE FROM ingest_job_items WHERE job_id = ? AND bucket IN ?", ("job-1", list(range(jobs.BUCKETS))))
    again = jobs.progress(db, "job-1")
    assert again.done and {k: again.as_dict()[k] for k in expected} == expected
    assert again.as_dict()["status"] == "done"


def test_a_failed_job_is_not_frozen(clean_tables):
    db = clean_tables
    jobs.create(db, "job-2", "/gone", "alice")
    jobs.set_failed(db, "job-2", "source not found")
    progress = jobs.progress(db, "job-2")
    assert progress.done and progress.as_dict()["status"] == "failed"
    assert _totals_column(db, "job-2") is None


def test_an_empty_folder_is_done_with_zero_counts(clean_tables):
    db = clean_tables
    jobs.create(db, "job-3", "/empty", "alice")
    jobs.set_discovered(db, "job-3", 0)
    for _ in range(2):
        progress = jobs.progress(db, "job-3")
        assert progress.done and progress.as_dict()["stored"] == 0 and progress.as_dict()["faces"] == 0


def test_counters_count_each_item_once_under_redelivery_and_follow_a_changed_outcome(clean_tables):
    db = clean_tables
    jobs.create(db, "job-4", "/photos", "alice")
    jobs.set_discovered(db, "job-4", 3)
    for _delivery in range(2):  # every task delivered twice
        jobs.record_outcome(db, "job-4", "a.jpg", "a.jpg", jobs.STORED, image_id="img-a")
        jobs.record_outcome(db, "job-4", "b.jpg", "b.jpg", jobs.DUPLICATE, image_id="img-a")
        jobs.record_outcome(db, "job-4", "c.jpg", "c.jpg", jobs.STORED, image_id="img-c")
        jobs.record_extracted(db, "job-4", "a.jpg", 2)
        jobs.record_extracted(db, "job-4", "b.jpg", 2)  # a labeled duplicate: marked, not counted
    # an internal error after "stored" turns the item into a rejection: the counters move with it
    jobs.record_outcome(db, "job-4", "c.jpg", "c.jpg", jobs.REJECTED, reason="internal error: boom")
    assert jobs.counters(db, "job-4") == {"stored": 1, "duplicate": 1, "rejected": 1, "extracted": 1, "faces": 2}
    # and back: stored again, then extracted again (a later delivery), each counted once
    jobs.record_outcome(db, "job-4", "c.jpg", "c.jpg", jobs.STORED, image_id="img-c")
    jobs.record_extracted(db, "job-4", "c.jpg", 5)
    jobs.record_outcome(db, "job-4", "c.jpg", "c.jpg", jobs.REJECTED, reason="internal error: boom")
    assert jobs.counters(db, "job-4") == {"stored": 1, "duplicate": 1, "rejected": 1, "extracted": 1, "faces": 2}
    progress = jobs.progress(db, "job-4")
    assert progress.done
    assert [(i.item_key, i.reason) for i in jobs.rejected(db, progress.job)] == [("c.jpg", "internal error: boom")]


def test_the_rejected_list_is_one_bounded_read(clean_tables):
    db = clean_tables
    jobs.create(db, "job-5", "/junk", "alice")
    for i in range(250):
        jobs.record_outcome(db, "job-5", f"{i}.txt", f"{i}.txt", jobs.REJECTED, reason="not an image")
    job = jobs.get(db, "job-5")
    assert len(jobs.rejected(db, job)) == jobs.MAX_REJECTED_LISTED
    assert len(jobs.rejected(db, job, 7)) == 7
    assert jobs.progress(db, "job-5").counts["rejected"] == 250


def test_a_job_from_before_the_counters_is_still_counted_from_its_items(clean_tables):
    db = clean_tables
    _job_with_two_items(db, "job-6")
    db.execute("UPDATE ingest_jobs SET counted = null WHERE job_id = ?", ("job-6",))
    db.execute("TRUNCATE ingest_job_tally")
    db.execute("TRUNCATE ingest_job_rejects")
    progress = jobs.progress(db, "job-6")
    assert (progress.counts["stored"], progress.counts["rejected"]) == (1, 1)
    assert [i.item_key for i in jobs.rejected(db, progress.job)] == ["b.txt"]


def test_concurrent_writers_of_one_job_count_every_item_exactly_once(clean_tables):
    """Eight threads record 400 items (each twice) of one job at once: the tallies' compare-and-set retries
    on collisions and loses nothing."""
    from concurrent.futures import ThreadPoolExecutor

    db = clean_tables
    jobs.create(db, "job-7", "/photos", "alice")
    jobs.set_discovered(db, "job-7", 400)
    keys = [f"{i:03d}.jpg" for i in range(400)]

    def record(key: str) -> None:
        jobs.record_outcome(db, "job-7", key, key, jobs.STORED, image_id=f"img-{key}")
        jobs.record_extracted(db, "job-7", key, 1)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(record, keys + keys))
    assert jobs.counters(db, "job-7") == {"stored": 400, "extracted": 400, "faces": 400}
    assert jobs.progress(db, "job-7").done
