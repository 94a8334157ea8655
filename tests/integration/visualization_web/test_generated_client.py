"""A Python client generated from the OpenAPI document (openapi-python-client, offline, into a temporary folder;
never committed) drives the whole loop as a user's script would, with REAL workers: create two personas,
upload photos, label the faces, wait for a model, upload more photos and read their predictions.

The web app is served over HTTP by a real WSGI server; the script authenticates with an API token (no
cookie, so no CSRF token). Photos come from images that dependencies ship (tests/support/face_images.py).
"""

from __future__ import annotations

import importlib
import io
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from common.infra.task_names import QUEUES
from tests.integration.visualization_web.conftest import PASSWORD
from tests.support.face_images import jpeg_bytes, variant

PEOPLE = {"astronaut": "Eileen Collins", "grace_hopper": "Grace Hopper"}
GENERATOR = Path(sys.executable).with_name("openapi-python-client")
CONFIG = "package_name_override: pp_client\nproject_name_override: pp-client\npost_hooks: []\n"


@pytest.fixture
def server(web) -> Iterator[str]:
    """The app on 127.0.0.1:<random port> (werkzeug, threaded); yields its base URL."""
    from werkzeug.serving import make_server

    web.config["TESTING"] = False  # errors answer as in production
    http = make_server("127.0.0.1", 0, web, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    thread.join(10)


@pytest.fixture
def token(web_db) -> str:
    """What `persona-pipeline tokens create` gives a labeler for their script."""
    from visualization_web import users

    users.put(web_db, "script", PASSWORD, "labeler")
    return users.create_token(web_db, "script", "evaluation")[1]


def generate_client(base: str, token: str, folder: Path) -> Any:
    """Download the document, generate the client package and import it (``pp_client``)."""
    document = httpx.get(f"{base}/api/v1/openapi.json", headers={"Authorization": f"Bearer {token}"})
    document.raise_for_status()
    (folder / "openapi.json").write_bytes(document.content)
    (folder / "config.yaml").write_text(CONFIG)
    done = subprocess.run([str(GENERATOR), "generate", "--path", "openapi.json", "--output-path", "pp_client",
                           "--meta", "none", "--config", "config.yaml"],
                          cwd=folder, capture_output=True, text=True, timeout=120)  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Warning" not in output, output  # every schema became a typed model
    sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    return importlib.import_module("pp_client")


@pytest.fixture
def pp_client(server, token, tmp_path) -> Iterator[Any]:
    folder = tmp_path / "generated"
    folder.mkdir()
    package = generate_client(server, token, folder)
    yield package
    sys.path.remove(str(folder))
    for name in [m for m in sys.modules if m == "pp_client" or m.startswith("pp_client.")]:
        del sys.modules[name]


@pytest.fixture
def forget_passes(redis_client) -> Iterator[None]:
    """Set up before the workers, so torn down after them: their reclassification passes leave no state
    that a later test would read as its own."""
    yield
    stale = redis_client.keys("reclassify:*")
    if stale:
        redis_client.delete(*stale)


def wait_for(what: str, check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.5)


def test_a_script_on_the_generated_client_runs_the_whole_loop(pp_client, server, token, redis_client, forget_passes,
                                                              start_worker):  # fmt: skip
    redis_client.delete(*QUEUES)  # tasks left by earlier tests name rows that clean_tables removed
    start_worker("input_worker.app", "ingest,extract", name="client-input")
    start_worker("trainer_worker.app", "retrain", name="client-retrain", concurrency=1)
    start_worker("trainer_worker.app", "reclassify", name="client-reclassify")

    # --- the user's script, written against the generated package only -----------------------------------
    from pp_client import AuthenticatedClient
    from pp_client.api.images import get_image, list_images
    from pp_client.api.ingest import get_ingest_job, start_ingest
    from pp_client.api.labels import label_faces
    from pp_client.api.models import list_models
    from pp_client.api.personas import create_persona, list_personas
    from pp_client.api.predict import predict
    from pp_client.api.tokens import me
    from pp_client.models import (
        Error,
        ImageDetail,
        IngestUpload,
        JobProgress,
        LabelRequest,
        Persona,
        PersonaName,
        PredictUpload,
        Verdict,
    )
    from pp_client.types import File

    client = AuthenticatedClient(base_url=server, token=token, raise_on_unexpected_status=True)
    assert me.sync(client=client).role == "labeler"

    personas: dict[str, Persona] = {}
    for person, name in PEOPLE.items():
        created = create_persona.sync(client=client, body=PersonaName(name=name))
        assert isinstance(created, Persona), created
        personas[person] = created
    taken = create_persona.sync(client=client, body=PersonaName(name="grace hopper"))
    assert isinstance(taken, Error) and taken.error.status == 409  # errors come back typed too

    def upload(indexes: range) -> dict[str, str]:
        """Upload photos; wait for the job; returns each stored image's person by its file name."""
        photos = [(f"{person}-{i:04d}.jpg", jpeg_bytes(image)) for i in indexes for person, image in [variant(i)]]
        files = [File(payload=io.BytesIO(data), file_name=name, mime_type="image/jpeg") for name, data in photos]
        started = start_ingest.sync(client=client, body=IngestUpload(files=files))
        job = wait_for("the ingest job", lambda: (j := get_ingest_job.sync(started.job_id, client=client))
                       .status in ("done", "failed") and j, 120)  # fmt: skip
        assert isinstance(job, JobProgress) and job.status == "done" and job.stored == len(photos), job
        listed = list_images.sync(client=client, limit=500).images  # source names: "<index> <file name>"
        people = {name: name.split("-")[0] for name, _ in photos}
        shown = {i.image_id: i.source_name.split(" ")[-1] for i in listed}
        return {image_id: people[name] for image_id, name in shown.items() if name in people}

    # 1. six photos; confirm each face for the persona its photo shows
    first = upload(range(6))
    for image_id, person in first.items():
        detail = get_image.sync(image_id, client=client)
        assert isinstance(detail, ImageDetail) and detail.faces, detail
        labeled = label_faces.sync(client=client, body=LabelRequest(
            persona_id=personas[person].persona_id, verdict=Verdict.CONFIRM,
            face_ids=[f.face_id for f in detail.faces]))  # fmt: skip
        assert len(labeled.events) == len(detail.faces)
    counts = {p.name: p.confirmed for p in list_personas.sync(client=client).personas}
    assert all(counts[name] >= 2 for name in PEOPLE.values()), counts

    # 2. the labels retrain: wait for an active model that knows both personas
    def model_for_both():
        models = list_models.sync(client=client)
        active = next((v for v in models.versions if v.version == models.active_version), None)
        known = active and active.metrics.evaluated_faces
        return models.active_version if known else None

    version = wait_for("an active model", model_for_both, 120)

    # 3. more photos: their faces are predicted by the active model, each as the person it shows
    second = upload(range(6, 10))

    def predicted() -> list[tuple[str, str | None]] | None:
        found = []
        for image_id, person in second.items():
            for face in get_image.sync(image_id, client=client).faces:
                if face.prediction is None:
                    return None
                found.append((person, face.prediction.persona))
        return found

    for person, persona in wait_for("predictions of the new faces", predicted, 90):
        assert persona == PEOPLE[person]

    # 4. and a photo the system never stored, through /predict
    person, image = variant(11)
    answer = predict.sync(
        client=client,
        body=PredictUpload(
            image=File(payload=io.BytesIO(jpeg_bytes(image)), file_name="new.jpg", mime_type="image/jpeg")
        ),
    )
    assert answer.model_version >= version and [f.persona for f in answer.faces] == [PEOPLE[person]]
