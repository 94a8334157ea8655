"""Azure AI Face adapter at the HTTP transport level (the real azure-ai-vision-face SDK, scripted replies).

Replies use the documented shape of Face - Detect (detection only, returnFaceId=false):
``[{"faceRectangle": {"top": .., "left": .., "width": .., "height": ..}}]``.
"""

from __future__ import annotations

import io
import json
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from azure.core.exceptions import HttpResponseError
from PIL import Image

from common.face_models import DetectorUnavailable, detect_boxes
from common.face_models.azure_face import MAX_BYTES, AzureFaceDetector
from tests.unit.common.face_models.azure_transport import Reply, ScriptedTransport
from tests.unit.input_worker.sample_images import astronaut

ENDPOINT = "https://example-face.cognitiveservices.azure.com"


def detect_reply(*rects: tuple[int, int, int, int]) -> Reply:
    body = [{"faceRectangle": {"left": left, "top": top, "width": w, "height": h}} for left, top, w, h in rects]
    return Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json; charset=utf-8"})


def throttled(retry_after: str | None) -> Reply:
    body = {"error": {"code": "429", "message": "Rate limit is exceeded. Try again in 1 seconds."}}
    headers = {"Content-Type": "application/json"} | ({"Retry-After": retry_after} if retry_after else {})
    return Reply(429, json.dumps(body).encode(), headers)


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def detector(transport: ScriptedTransport, sleeps: Sleeps, **kwargs) -> AzureFaceDetector:
    return AzureFaceDetector(ENDPOINT, "fake-key", transport=transport, sleep=sleeps, **kwargs)


def test_detect_sends_detection_only_request_and_reads_documented_rectangles():
    transport = ScriptedTransport(lambda request: detect_reply((177, 131, 162, 162)))
    boxes = detector(transport, Sleeps()).detect(astronaut())

    assert [b.box for b in boxes] == [(177, 131, 162, 162)]
    request = transport.requests[0]
    url = urlsplit(request.url)
    query = parse_qs(url.query)
    assert request.method == "POST" and url.path.endswith("/detect")
    assert query["detectionModel"] == ["detection_03"]
    assert query["recognitionModel"] == ["recognition_04"]
    assert query["returnFaceId"] == ["false"]
    assert request.headers["Content-Type"] == "application/octet-stream"
    assert request.headers["Ocp-Apim-Subscription-Key"] == "fake-key"


def test_429_with_retry_after_is_retried_after_that_delay():
    replies = iter([throttled("2"), detect_reply((1, 2, 30, 30))])
    transport = ScriptedTransport(lambda request: next(replies))
    sleeps = Sleeps()
    boxes = detector(transport, sleeps).detect(astronaut())

    assert [b.box for b in boxes] == [(1, 2, 30, 30)]
    assert len(transport.requests) == 2
    assert len(sleeps) == 1 and 2.0 <= sleeps[0] <= 2.2


def test_429_without_retry_after_and_5xx_back_off_exponentially_with_jitter():
    replies = iter([throttled(None), Reply(503), throttled(None), detect_reply()])
    transport = ScriptedTransport(lambda request: next(replies))
    sleeps = Sleeps()
    assert detector(transport, sleeps, backoff_base=1.0).detect(astronaut()) == []
    assert len(transport.requests) == 4
    assert [0 <= s <= cap for s, cap in zip(sleeps, (1, 2, 4), strict=True)] == [True] * 3


def test_throttled_until_attempts_run_out_means_try_later_not_dropped():
    transport = ScriptedTransport(lambda request: throttled("1"))
    with pytest.raises(DetectorUnavailable):
        detector(transport, Sleeps(), max_attempts=3).detect(astronaut())
    assert len(transport.requests) == 3


def test_bad_request_is_not_retried():
    body = json.dumps({"error": {"code": "InvalidImage", "message": "Decoding error."}}).encode()
    transport = ScriptedTransport(lambda request: Reply(400, body, {"Content-Type": "application/json"}))
    with pytest.raises(HttpResponseError):
        detector(transport, Sleeps()).detect(astronaut())
    assert len(transport.requests) == 1


def test_large_image_is_downscaled_before_sending_and_boxes_mapped_back():
    big = np.asarray(Image.fromarray(astronaut()).resize((4000, 4000)))  # 1:1, so the 1080 short side binds
    sent: list[tuple[int, int]] = []

    def handler(request):
        image = Image.open(io.BytesIO(request.content))
        sent.append(image.size)
        return detect_reply((100, 50, 40, 40))  # in the pixels of what was sent

    boxes = detector(ScriptedTransport(handler), Sleeps()).detect(big)

    assert sent == [(1080, 1080)]
    factor = 4000 / 1080
    expected = (100 * factor, 50 * factor, 40 * factor, 40 * factor)
    assert all(abs(got - want) <= 1 for got, want in zip(boxes[0].box, expected, strict=True))


def test_noise_heavy_image_is_kept_under_6_mb():
    rng = np.random.default_rng(1)
    noisy = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    sizes: list[int] = []

    def handler(request):
        sizes.append(len(request.content))
        return detect_reply()

    detector(ScriptedTransport(handler), Sleeps()).detect(noisy)
    assert sizes and sizes[0] <= MAX_BYTES


def test_pipeline_maps_azure_boxes_to_original_pixels_through_both_downscales():
    big = np.asarray(Image.fromarray(astronaut()).resize((2048, 2048)))
    sent: list[tuple[int, int]] = []

    def handler(request):
        sent.append(Image.open(io.BytesIO(request.content)).size)
        return detect_reply((175, 76, 91, 91))

    boxes = detect_boxes(big, detector(ScriptedTransport(handler), Sleeps()), max_side=512)
    assert sent == [(512, 512)]
    assert boxes[0].box == (700, 304, 364, 364)


def test_every_attempt_takes_a_rate_limit_slot():
    class CountingLimiter:
        calls = 0

        def acquire(self) -> None:
            self.calls += 1

    limiter = CountingLimiter()
    replies = iter([throttled("0"), detect_reply()])
    detector(ScriptedTransport(lambda request: next(replies)), Sleeps(), limiter=limiter).detect(astronaut())
    assert limiter.calls == 2
