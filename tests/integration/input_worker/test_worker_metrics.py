"""A real input worker's metrics port during an ingest: its tasks by name and outcome with their durations,
the files stored and rejected by reason, the faces found; read while the job runs, never going back."""

from __future__ import annotations

import itertools
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from common.infra import task_names
from common.ingest.requests import start_ingest
from tests.integration.input_worker.helpers import wait_for_job
from tests.support.gunicorn_server import free_port, get
from tests.unit.input_worker.sample_images import GOOD_FACES, bad_images, good_images, write_folder

pytestmark = pytest.mark.integration


def _scrape(port: int) -> dict[tuple, float]:
    status, headers, body = get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    return {(sample.name, *sorted(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(body.decode()) if family.name.startswith("pp_")
            for sample in family.samples}  # fmt: skip


def test_a_workers_metrics_port_counts_tasks_images_and_faces_during_an_ingest(
    clean_tables, redis_client, start_worker, tmp_path, settings
):
    port = free_port()
    start_worker("input_worker.app", "ingest,extract", concurrency=2,
                 env={"PP_WORKER_METRICS_PORT": str(port), "PP_METRICS_DIR": str(tmp_path / "metrics")})  # fmt: skip
    before = _scrape(port)
    assert not any(key[0] == "pp_tasks_total" for key in before)  # a fresh start: nothing counted yet
    folder = write_folder(tmp_path / "photos", {**good_images(), **bad_images(settings.max_image_bytes)})
    redis_client.delete("reclassify")
    job_id = start_ingest(clean_tables, str(folder), actor="test")

    scrapes = []
    deadline = time.monotonic() + 240
    stored, faces = len(GOOD_FACES), sum(GOOD_FACES.values())
    extract_ok = ("pp_tasks_total", ("outcome", "success"), ("task", task_names.EXTRACT_IMAGE))
    while time.monotonic() < deadline:  # read during the ingest, until the last extraction is counted
        scrapes.append(_scrape(port))
        if scrapes[-1].get(extract_ok, 0) >= stored:
            break
        time.sleep(0.3)
    wait_for_job(clean_tables, job_id)
    redis_client.delete("reclassify")
    final = scrapes[-1]

    for earlier, later in itertools.pairwise(scrapes):
        assert all(later.get(k, 0) >= v for k, v in earlier.items() if k[0].endswith(("_total", "_count")))
    assert len(scrapes) > 1  # seen while the job ran

    def tasks(name: str) -> float:
        return final.get(("pp_tasks_total", ("outcome", "success"), ("task", name)), 0)

    assert tasks(task_names.INGEST_JOB) == 1 and tasks(task_names.INGEST_BATCH) >= 1
    assert tasks(task_names.EXTRACT_IMAGE) == stored
    assert final[("pp_task_duration_seconds_count", ("task", task_names.EXTRACT_IMAGE))] == stored
    assert final[("pp_ingest_items_total", ("outcome", "stored"))] == stored
    assert final[("pp_ingest_items_total", ("outcome", "rejected"))] == 4
    rejected = {dict(k[1:])["reason"]: v for k, v in final.items() if k[0] == "pp_ingest_rejected_total"}
    assert rejected == {"empty_file": 1, "corrupt_or_truncated_image": 1, "not_an_image": 1, "file_too_large": 1}
    assert final[("pp_extract_images_total", ("outcome", "processed"))] == stored
    assert final[("pp_faces_detected_total", ("detector", "dlib-hog"))] == faces
    assert not any(k[0] == "pp_tasks_total" and dict(k[1:])["outcome"] == "failure" for k in final)
