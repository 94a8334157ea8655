"""Per-route body limits: which limit each route gets, and the cap on bodies sent without a length."""

from __future__ import annotations

import io

import pytest
from werkzeug.exceptions import RequestEntityTooLarge

from common.infra.settings import Settings
from visualization_web.request_limits import DEFAULT_BODY, MULTIPART_OVERHEAD, CappedInput, limit_for

SETTINGS = Settings(max_upload_bytes=1_000_000, max_image_bytes=50_000)


def test_uploads_take_the_upload_limit_only_as_multipart():
    assert limit_for("api.ingest_start", "multipart/form-data", SETTINGS) == 1_000_000
    assert limit_for("api.ingest_start", "application/json", SETTINGS) == DEFAULT_BODY
    assert limit_for("pages.ingest_upload", "multipart/form-data", SETTINGS) == 1_000_000


def test_predict_takes_one_image_and_everything_else_a_small_body():
    assert limit_for("api.predict", "image/jpeg", SETTINGS) == 50_000 + MULTIPART_OVERHEAD
    assert limit_for("api.predict", "multipart/form-data", SETTINGS) == 50_000 + MULTIPART_OVERHEAD
    assert limit_for("api.personas_create", "application/json", SETTINGS) == DEFAULT_BODY
    assert limit_for(None, "", SETTINGS) == DEFAULT_BODY  # an unrouted request (404)
    assert limit_for("api.labels_create", "application/json", SETTINGS) > DEFAULT_BODY


def test_a_body_without_a_length_is_read_up_to_the_limit_and_no_further():
    assert io.BufferedReader(CappedInput(io.BytesIO(b"x" * 100), 100)).read() == b"x" * 100
    with pytest.raises(RequestEntityTooLarge):
        io.BufferedReader(CappedInput(io.BytesIO(b"x" * 101), 100)).read()
