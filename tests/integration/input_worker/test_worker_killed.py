"""SIGKILL an input worker mid-job: after redelivery the job's faces are exactly those of a clean run."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from common.face_models import extract_faces
from common.images import load_image
from common.ingest.requests import start_ingest
from common.repositories import faces, jobs
from common.repositories.ids import face_id
from common.storage import sha256_hex
from tests.integration.input_worker.helpers import count_rows, wait_for_job
from tests.unit.input_worker.sample_images import astronaut, collage, encode, grace_hopper, write_folder

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

# Short timeouts for this test: the killed worker's unacked tasks become visible again after VISIBILITY
# seconds, and a worker starting later restores them (kombu's restore at start).
VISIBILITY = 45
TIME_LIMIT = 40


def varied_images() -> dict[str, bytes]:
    a, g = astronaut(), grace_hopper()
    out = {}
    for i, scale in enumerate((0.8, 1.0, 1.3)):
        for name, img in (("astronaut", a), ("hopper", g), ("pair", collage(a, g))):
            size = (round(img.shape[1] * scale), round(img.shape[0] * scale))
            resized = np.asarray(Image.fromarray(img).resize(size))
            out[f"{name}-{i}.jpg"] = encode(resized)
            out[f"{name}-{i}-flipped.png"] = encode(resized[:, ::-1].copy(), "PNG")
    return out


def test_faces_after_a_sigkill_are_exactly_those_of_a_clean_run(clean_tables, start_worker, tmp_path, settings):
    db = clean_tables
    files = varied_images()
    folder = write_folder(tmp_path / "photos", files)
    expected = set()
    for name, data in files.items():
        image_id = sha256_hex(data)
        expected |= {face_id(image_id, f.box) for f in extract_faces(load_image(data, name, settings).rgb)}

    env = {"PP_CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY), "PP_CELERY_TASK_TIME_LIMIT": str(TIME_LIMIT)}
    first = start_worker("input_worker.app", "ingest,extract", name="doomed", env=env)
    job_id = start_ingest(db, str(folder), actor="test")
    deadline = time.monotonic() + 120
    while (progress := jobs.progress(db, job_id)).counts["extracted"] < 3:
        assert time.monotonic() < deadline, progress.as_dict()
        time.sleep(0.1)
    first.kill()
    killed_at = time.monotonic()
    assert not jobs.progress(db, job_id).done

    time.sleep(max(0.0, VISIBILITY + 5 - (time.monotonic() - killed_at)))
    start_worker("input_worker.app", "ingest,extract", name="survivor", env=env)
    progress = wait_for_job(db, job_id, timeout=300)

    assert progress.counts["stored"] == len(files) and progress.counts["rejected"] == 0
    assert progress.counts["faces"] == len(expected)
    stored = {fid for item in jobs.items(db, job_id) for fid in faces.ids_for_image(db, item.image_id)}
    assert stored == expected
    assert count_rows(db, "faces") == len(expected) and count_rows(db, "images") == len(files)
