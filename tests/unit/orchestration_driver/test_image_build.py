"""The image step: source uploaded to the registry's upload URL, a Docker build run scheduled, its log streamed."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from orchestration_driver import engine
from orchestration_driver.image_build import BuildFailed, build_image


@pytest.fixture
def source(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.py").write_text("print('hi')\n")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "huge.bin").write_bytes(b"0" * 1000)
    return tmp_path


def test_build_uploads_the_context_schedules_a_run_and_streams_its_log(arm, config, clients, source):
    actual = engine.up(config, clients, lambda _: None)
    lines: list[str] = []
    digest = build_image(config, clients, actual, source, lines.append)
    archive = arm.state.blobs["source-0.tar.gz"]
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert sorted(tar.getnames()) == ["Dockerfile", "app/main.py"]  # .venv stays home
    assert digest == "sha256:" + hashlib.sha256(archive).hexdigest()
    [run] = [r for rid, r in arm.state.resources.items() if "/runs/" in rid]
    assert run["properties"]["images"] == ["persona-pipeline:0.1.0"]
    assert "  | Successfully pushed persona-pipeline:0.1.0" in lines
    assert sum(1 for line in lines if line.startswith("  | Step")) == 2  # each log line printed once
    assert lines[-1] == f"image: pptestacr.azurecr.io/persona-pipeline:0.1.0@{digest}"


def test_a_failed_build_says_so(arm, config, clients, source):
    actual = engine.up(config, clients, lambda _: None)
    arm.state.fail_build = True
    with pytest.raises(BuildFailed, match="image run ca1 ended Failed: the build failed"):
        build_image(config, clients, actual, source, lambda _: None)
