"""Ingest job progress: exact counters from the items while a job runs, one row once it is done."""

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
