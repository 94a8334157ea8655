"""Helpers for input-worker integration tests: wait for jobs, read what the reclassify queue received."""

from __future__ import annotations

import base64
import json
import time

from common.infra import task_names
from common.repositories import jobs


def wait_for_job(db, job_id: str, timeout: float = 240.0) -> jobs.Progress:
    deadline = time.monotonic() + timeout
    while True:
        progress = jobs.progress(db, job_id)
        if progress is not None and progress.done:
            return progress
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} not done in {timeout}s: {progress and progress.as_dict()}")
        time.sleep(0.5)


def queued_reclassify_face_ids(redis_client) -> list[list[str]]:
    """face_ids of each RECLASSIFY_BATCH message waiting in the (unconsumed) reclassify queue."""
    out = []
    for raw in redis_client.lrange("reclassify", 0, -1):
        message = json.loads(raw)
        if message["headers"]["task"] != task_names.RECLASSIFY_BATCH:
            continue
        _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        out.append(kwargs["face_ids"])
    return out


def count_rows(db, table: str) -> int:
    return sum(1 for _ in db.execute(f"SELECT * FROM {table}", fetch_size=500))
