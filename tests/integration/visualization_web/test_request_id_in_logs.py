"""One upload followed through the JSON logs by its request id: the web request (X-Request-ID in, the same id
out), then the real workers' tasks it caused (ingest job, batch, extraction, reclassification of the new face)
down to its stored prediction, each line with its task id and name, job or image."""

from __future__ import annotations

import io
import json
import time
import uuid

import numpy as np
import pytest

from common.face_models import EMBEDDER_NAME
from common.infra import logging_setup, task_names
from common.infra.settings import LogFormat
from common.repositories import faces, ids, jobs, labels, personas, predictions
from tests.integration.input_worker.helpers import wait_for_job
from tests.support import seed
from tests.unit.input_worker.sample_images import astronaut, encode
from trainer_worker.training import run_training

pytestmark = pytest.mark.integration


def _json_lines(paths) -> list[dict]:
    out = []
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))  # every log line of a worker is one JSON object
    return out


@pytest.fixture
def json_logs(monkeypatch):
    from common.infra.settings import get_settings

    monkeypatch.setenv("PP_LOG_FORMAT", "json")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _active_model(db) -> None:
    """A promoted model over two personas, trained here on synthetic embeddings of the detector's kind."""
    for i, center in enumerate(seed.centers(2)):
        persona = personas.create(db, f"Persona {i}", "tester")
        rng = np.random.default_rng(i)
        for n in range(6):
            image_id, box = f"seed{i}-{n:02d}", (10, 10, 40, 40)
            face_id = ids.face_id(image_id, box)
            embedding = np.asarray(seed.embedding_near(center, rng), np.float32)
            faces.upsert(db, faces.Face(face_id, image_id, box, "synthetic", 0.99, embedding, EMBEDDER_NAME, ""))
            labels.put(db, face_id, persona.persona_id, labels.CONFIRM, "tester")
    assert run_training(db).status == "active"


def test_one_upload_is_followed_by_its_request_id_from_the_web_to_its_prediction(
    json_logs, web, login, web_db, start_worker, redis_client, tmp_path
):
    _active_model(web_db)
    workers = [start_worker("input_worker.app", "ingest,extract", name="trace-input", env={"PP_LOG_FORMAT": "json"}),
               start_worker("trainer_worker.app", "reclassify", name="trace-reclassify",
                            env={"PP_LOG_FORMAT": "json"})]  # fmt: skip
    web_log = io.StringIO()
    requests_logger = logging_setup.logging.getLogger("visualization_web.requests")
    handler = logging_setup.handler(LogFormat.json, web_log)
    requests_logger.addHandler(handler)
    requests_logger.setLevel("INFO")
    rid = f"upload-{uuid.uuid4().hex[:12]}"
    try:
        api = login("labeler")
        response = api.client.post("/api/v1/ingest", headers={"X-CSRF-Token": api.csrf, "X-Request-ID": rid},
                                   data={"files": [(io.BytesIO(encode(astronaut())), "astronaut.jpg")]})  # fmt: skip
    finally:
        requests_logger.removeHandler(handler)
    assert response.status_code == 202 and response.headers["X-Request-ID"] == rid
    job_id = response.get_json()["job_id"]
    wait_for_job(web_db, job_id)
    image_id = jobs.items(web_db, job_id)[0].image_id
    face_id = faces.ids_for_image(web_db, image_id)[0]

    deadline = time.monotonic() + 120
    while predictions.for_face(web_db, face_id) is None and time.monotonic() < deadline:
        time.sleep(0.3)
    assert predictions.for_face(web_db, face_id) is not None  # the upload ends in a stored prediction
    time.sleep(1)  # the reclassify task's own "succeeded" line follows its writes

    web_lines = [json.loads(line) for line in web_log.getvalue().splitlines()]  # the login's requests too
    assert [(w["user"], w["method"], w["route"], w["status"]) for w in web_lines if w["request_id"] == rid] == [
        ("labeler", "POST", "/api/v1/ingest", 202)]  # fmt: skip
    traced = [line for line in _json_lines(w.log_path for w in workers) if line.get("request_id") == rid]
    by_task = {line["task_name"] for line in traced if "task_name" in line}
    assert by_task >= {task_names.INGEST_JOB, task_names.INGEST_BATCH, task_names.EXTRACT_IMAGE,
                       task_names.RECLASSIFY_BATCH}  # fmt: skip
    for line in traced:
        assert {"time", "level", "logger", "message"} <= set(line)
    assert any(line.get("job_id") == job_id for line in traced if line.get("task_name") == task_names.INGEST_BATCH)
    assert any(line.get("image_id") == image_id for line in traced
               if line.get("task_name") == task_names.EXTRACT_IMAGE)  # fmt: skip
    assert any("succeeded" in line["message"] for line in traced
               if line.get("task_name") == task_names.RECLASSIFY_BATCH)  # fmt: skip
