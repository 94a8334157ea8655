"""Attacks on image decoding: memory bombs under the pixel cap, oversize /predict bodies, images that kill
their worker, and a 16-bit PNG that used to turn black. Real app, real workers, Cassandra and Redis.

The peak-RSS measurements of the 79 MP RGBA PNG (through ingest and through /predict) are in the hostile
suite, tests/reliability/test_hostile_input.py.
"""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from common.images import budget
from common.infra.settings import get_settings
from common.ingest.requests import start_ingest
from common.repositories import images, jobs
from common.storage import sha256_hex
from tests.integration.input_worker.helpers import wait_for_job
from tests.support.face_images import astronaut, grace_hopper, jpeg_bytes, variant
from tests.support.hostile_files import large_rgba_png

pytestmark = pytest.mark.integration


class CountingBody(io.RawIOBase):
    """A request body of ``size`` zero bytes, made as it is read; ``read_bytes`` says how much the app read."""

    def __init__(self, size: int):
        self.size, self.read_bytes = size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.size - self.read_bytes)
        buffer[:n] = b"\0" * n
        self.read_bytes += n
        return n


def _predict(api, **kwargs):
    return api.client.post("/api/v1/predict", headers={"X-CSRF-Token": api.csrf, **kwargs.pop("headers", {})},
                           **kwargs)  # fmt: skip


def test_predict_refuses_a_declared_oversize_body_without_reading_it(login):
    api = login("viewer")
    limit = get_settings().max_image_bytes
    body = CountingBody(3 * limit)
    response = _predict(api, content_type="image/jpeg",
                        environ_overrides={"wsgi.input": body, "CONTENT_LENGTH": str(body.size)})  # fmt: skip
    assert response.status_code == 413
    assert body.read_bytes == 0  # refused from Content-Length: not one byte of the 60 MB buffered


def test_predict_stops_reading_a_body_without_a_length_at_one_image(login):
    api = login("viewer")
    limit = get_settings().max_image_bytes
    body = CountingBody(3 * limit)  # chunked: no Content-Length, the server says the input ends at EOF
    chunked = {"wsgi.input": body, "wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"}
    response = _predict(api, content_type="image/jpeg", environ_overrides=chunked)
    assert response.status_code == 413
    assert body.read_bytes <= limit + 2 * 1024 * 1024, body.read_bytes  # one image's worth, not 60 MB


def test_predict_refuses_the_79_megapixel_rgba_png_before_decoding_it(login):
    api = login("viewer")
    data = large_rgba_png(8900)  # 307 KB; decoded as before, it took 1.86 GB
    started = time.monotonic()
    response = _predict(api, data={"image": (io.BytesIO(data), "rgba.png")})
    elapsed = time.monotonic() - started
    assert response.status_code == 422
    message = response.get_json()["error"]["message"]
    assert "too large to decode" in message and "8900x8900" in message and "MiB" in message
    assert elapsed < 2.0  # refused from the header, no 79 MP decode


def test_predict_finds_the_face_in_a_16_bit_grayscale_png(login):
    api = login("viewer")
    for person, source in (("astronaut", astronaut()), ("grace_hopper", grace_hopper())):
        gray16 = source.convert("L").convert("I;16")  # 16-bit samples holding 0..255, as Pillow writes them
        png = io.BytesIO()
        gray16.save(png, "PNG")
        assert Image.open(io.BytesIO(png.getvalue())).mode == "I;16"
        response = _predict(api, data={"image": (io.BytesIO(png.getvalue()), f"{person}-16bit.png")})
        assert response.status_code == 200, response.get_data(as_text=True)
        assert len(response.get_json()["faces"]) >= 1, person  # it used to turn black: 0 faces


def test_an_image_that_kills_its_worker_is_refused_after_3_deliveries_and_its_batch_goes_on(
    clean_tables, start_worker, redis_client, tmp_path
):
    """One file kills the pool process while ingest decodes it, another while extract decodes it (as an OOM
    kill or a decoder's segfault would). Before, both were delivered again forever and the batch never ended."""
    db = clean_tables
    folder = tmp_path / "photos"
    folder.mkdir()
    photos = {f"good-{i}.jpg": jpeg_bytes(variant(i)[1]) for i in range(3)}
    photos["kills-ingest.jpg"] = jpeg_bytes(variant(10)[1])
    photos["kills-extract.jpg"] = jpeg_bytes(variant(11)[1])
    for name, data in photos.items():
        (folder / name).write_bytes(data)
    deadly = f"{sha256_hex(photos['kills-ingest.jpg'])}:ingest,{sha256_hex(photos['kills-extract.jpg'])}:extract"

    worker = start_worker("tests.support.deadly_worker", "ingest,extract", concurrency=1,
                          env={"PP_TEST_KILL_ON_DECODE": deadly})  # fmt: skip
    job_id = start_ingest(db, str(folder), actor="test:deadly")
    wait_for_job(db, job_id, timeout=240)

    items = {item.item_key: item for item in jobs.items(db, job_id)}
    assert (items["kills-ingest.jpg"].outcome, items["kills-ingest.jpg"].reason) == (
        jobs.REJECTED, "stopped the worker 3 times")  # fmt: skip
    killer = items["kills-extract.jpg"]
    assert killer.outcome == jobs.STORED and killer.extracted and killer.faces == 0
    image = images.get(db, killer.image_id)
    assert (image.status, image.error) == (images.FAILED, "stopped the worker 3 times")
    for i in range(3):
        good = items[f"good-{i}.jpg"]
        assert good.outcome == jobs.STORED and good.extracted and good.faces == 1, good
    log = worker.log_path.read_text(errors="replace")
    assert log.count("WorkerLostError") >= 6, log[-3000:]  # 3 deaths each, then no more
    assert not list(redis_client.scan_iter("pp:worker-deaths:*"))  # counters cleared once recorded


def test_the_default_budget_refuses_what_a_worker_pod_cannot_decode():
    """The 79 MP RGBA PNG is under the pixel cap but over the memory budget; every image in a cheaper mode
    at the pixel cap fits (see the hostile suite for the measured peaks)."""
    settings = get_settings()
    assert settings.max_image_pixels >= 8900 * 8900
    assert budget.over_budget("RGBA", 8900, 8900, settings.max_decode_bytes)
    assert not budget.over_budget("L", 8944, 8944, settings.max_decode_bytes)
