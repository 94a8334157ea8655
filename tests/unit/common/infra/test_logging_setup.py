"""JSON log lines: one object a line with time, level, logger, message and the ids in scope; text stays the
default; a caller's request id is kept only when it is a plain token; the id rides in the task headers."""

from __future__ import annotations

import io
import json
import logging
from datetime import datetime
from types import SimpleNamespace

from common.infra import log_context, logging_setup
from common.infra.settings import LogFormat, Settings
from common.task_runtime import task_logging


def _line(log_format: LogFormat, emit) -> str:
    stream = io.StringIO()
    logger = logging.getLogger(f"pp.test.{log_format}")
    logger.propagate, logger.level = False, logging.INFO
    logger.handlers = [logging_setup.handler(log_format, stream)]
    emit(logger)
    return stream.getvalue()


def test_a_json_line_has_time_level_logger_message_and_the_ids_in_scope():
    tokens = log_context.bind(request_id="rid-1", user="ada", job_id="job-9", image_id="abc123")
    try:
        out = _line(LogFormat.json, lambda logger: logger.warning("stored %d faces", 3))
    finally:
        log_context.unbind(tokens)
    record = json.loads(out)
    assert record["level"] == "WARNING" and record["logger"] == "pp.test.json"
    assert record["message"] == "stored 3 faces"
    assert datetime.fromisoformat(record["time"]).utcoffset().total_seconds() == 0
    assert {k: record[k] for k in ("request_id", "user", "job_id", "image_id")} == {
        "request_id": "rid-1", "user": "ada", "job_id": "job-9", "image_id": "abc123"}  # fmt: skip
    after = json.loads(_line(LogFormat.json, lambda logger: logger.info("later")))
    assert "request_id" not in after and "user" not in after  # unbound: out of scope


def test_an_exception_stays_inside_its_json_line():
    def emit(logger):
        try:
            raise ValueError("bad bytes")
        except ValueError:
            logger.exception("extract failed")

    out = _line(LogFormat.json, emit)
    assert out.count("\n") == 1
    assert "ValueError: bad bytes" in json.loads(out)["exc_info"]


def test_text_is_the_default_and_reads_as_before():
    assert Settings(_env_file=None).log_format is LogFormat.text
    out = _line(LogFormat.text, lambda logger: logger.info("hello"))
    assert out.rstrip().endswith("INFO pp.test.text: hello") and not out.startswith("{")


def test_a_callers_request_id_is_kept_only_when_it_is_a_plain_token():
    assert log_context.request_id_from("upload-42.a:b") == "upload-42.a:b"
    for hostile in ("", "x" * 129, "a b", 'x"}\n{"level":"ERROR"', None):
        generated = log_context.request_id_from(hostile)
        assert generated != hostile and len(generated) == 32


def test_the_request_id_rides_in_the_task_headers_and_is_bound_while_the_task_runs():
    log_context.install()
    tokens = log_context.bind(request_id="rid-7")
    headers: dict = {}
    try:
        log_context._add_request_id(headers=headers)
    finally:
        log_context.unbind(tokens)
    assert headers == {log_context.HEADER: "rid-7"}
    request = SimpleNamespace(**headers)
    ids = task_logging.ids_of(request, {"job_id": "j1", "image_ids": ["img-1"], "face_ids": ["f1", "f2"]})
    assert ids == {"request_id": "rid-7", "job_id": "j1", "image_id": "img-1"}
    task_logging._on_prerun(task_id="t1", task=SimpleNamespace(request=request), kwargs={"image_id": "img-2"})
    try:
        assert log_context.current() == {"request_id": "rid-7", "image_id": "img-2"}
    finally:
        task_logging._on_postrun(task_id="t1")
    assert log_context.current() == {}
