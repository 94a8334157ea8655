"""Staged uploads: one blob per job and file, released by the job that staged it and by no other."""

from __future__ import annotations

from common.ingest.requests import staged_by, staged_upload_key
from common.storage import content_key, get_blob_store, sha256_hex
from input_worker.sources import release_staged_uploads

DIGEST = sha256_hex(b"the same bytes")
JOB1, JOB2, JOB3 = "a" * 24, "b" * 24, "c" * 24  # job ids are 24 hex digits (ids.job_id_for)


def _stage(store, job_id: str, index: int) -> dict:
    locator = staged_upload_key(job_id, index, DIGEST)
    store.put(locator, b"the same bytes")
    return {"key": f"{index:04d} a.jpg", "name": "a.jpg", "locator": locator, "size": 14, "reason": None}


def test_two_jobs_uploading_the_same_bytes_stage_separate_blobs(settings):
    first, second = staged_upload_key(JOB1, 1, DIGEST), staged_upload_key(JOB2, 1, DIGEST)
    assert first != second and first.startswith("uploads/") and first.endswith(DIGEST)
    assert staged_by(JOB1, first) and not staged_by(JOB1, second)
    assert staged_upload_key(JOB1, 2, DIGEST) != first  # the same file twice in one job: two blobs


def test_release_deletes_only_what_this_job_staged(settings):
    store = get_blob_store()
    mine = [_stage(store, JOB1, 1), _stage(store, JOB1, 2)]
    theirs = _stage(store, JOB2, 1)
    legacy = content_key("uploads", DIGEST)  # staged before per-job keys: possibly shared, left alone
    store.put(legacy, b"the same bytes")
    not_staged = {"key": "0003 empty.png", "name": "empty.png", "locator": "", "size": 0, "reason": "empty file"}

    released = release_staged_uploads(JOB1, [*mine, not_staged, {**mine[0], "locator": legacy}])

    assert released == 2
    assert not any(store.exists(item["locator"]) for item in mine)
    assert store.exists(theirs["locator"]) and store.exists(legacy)
    assert release_staged_uploads(JOB1, mine) == 2  # again (a redelivered batch): no error


def test_items_of_other_sources_have_nothing_staged(settings):
    folder_item = {"key": "a.jpg", "name": "a.jpg", "locator": "L3RtcC9hLmpwZw==", "size": 1, "reason": None}
    share_item = {"key": "x/a.jpg", "name": "a.jpg", "locator": "uploads/a.jpg", "size": 1, "reason": None}
    lookalike = {**share_item, "locator": f"uploads/{JOB3}-0001-{DIGEST}/../../images/x"}
    url_item = {"key": "u", "name": "a.jpg", "locator": "https://example.org/a.jpg", "size": None, "reason": None}
    assert release_staged_uploads(JOB3, [folder_item, share_item, url_item, lookalike]) == 0
