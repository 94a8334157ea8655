"""The container image, built and run: every role of docker-compose.yml started from it does its job.

`make image-test` runs this file; `make test` too, as part of `tests/`. It builds the image (cached by
buildah's layer cache: seconds when nothing changed), starts migrate, web, the three workers, beat and
Flower from it with the commands of docker-compose.yml against the local Cassandra and Redis
(scripts/image_roles.py), runs the faces-small demo through them and checks what a deployment relies on.
Needs root; the build installs buildah (scripts/image/tools.sh). In CI (CI=true, which `.ci/run` sets) it
never skips: a missing tool is a failure. Elsewhere it skips, with the reason, when the user is not root.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.image_roles import APP_UID, LONG_RUNNING, ROOT, WORKER_NAMES, ImageRun, dataset_path, redis_url, say

# the first test also waits for the build (cold: ~2 min) and the whole run (~5 min)
pytestmark = [pytest.mark.image, pytest.mark.timeout(1800)]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SIZE_TARGET_MB = 800


def _why_not() -> str | None:
    if IN_CI or os.environ.get("PP_IMAGE_TEST") == "1":
        return None
    if os.geteuid() != 0:
        return "needs root (buildah, chroot isolation); runs in CI"
    return None  # a missing buildah is installed by the build (scripts/image/tools.sh)


@pytest.fixture(scope="module")
def image() -> str:
    if reason := _why_not():
        pytest.skip(reason)
    result = subprocess.run(["bash", str(ROOT / "scripts" / "image" / "build.sh")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:]
    sys.stderr.write(result.stderr)
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def report(image, services, request):
    run = ImageRun(image, redis_url())
    try:
        result = run.run(dataset_path(run.work))
        facts = result.image
        summary = (
            f"{facts.name}: {facts.size_bytes / 1e6:.0f} MB uncompressed, digest {facts.digest}; "
            f"roles up, demo and checks in {result.seconds:.0f} s (demo {result.demo_seconds:.0f} s)"
        )
        capture = request.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():
            say(summary)
        yield result
    finally:
        run.close()


def _logs(report, *roles: str) -> str:
    return "\n".join(f"--- {role}\n{report.log_tail(role)}" for role in roles)


def test_migrate_then_every_role_starts_and_the_web_sees_all_workers(report):
    assert report.migrate_exit == 0, _logs(report, "migrate")
    assert report.exited_early == {}, _logs(report, *report.exited_early)
    assert report.healthz == 200, _logs(report, "web")
    workers = report.health_details["checks"]["workers"]["detail"]
    for role, name in WORKER_NAMES.items():
        assert name in workers, f"{role} did not answer: {report.health_details}\n{_logs(report, role)}"
    assert report.health_details["status"] == "ok", report.health_details


def test_flower_answers_with_its_basic_auth(report):
    assert report.flower == 200, _logs(report, "flower")


def test_the_faces_small_demo_runs_through_the_image(report):
    assert report.demo_rows, f"demo did not finish: {report.demo_error}\n{_logs(report, *LONG_RUNNING)}"
    expected = json.loads((Path(report.dataset) / "expected.json").read_text())
    expected = {k: v for k, v in expected.items() if isinstance(v, list)}
    rows = {row["image"]: row for row in report.demo_rows}
    assert set(rows) == set(expected)
    wrong = {image: row["personas"] for image, row in rows.items() if not row["as_expected"]}
    assert not wrong, f"{len(rows) - len(wrong)} of {len(rows)} images as expected; wrong: {wrong}"


def test_every_process_runs_as_the_non_root_user(report):
    assert report.image.user == f"{APP_UID}:{APP_UID}"
    for role in LONG_RUNNING:
        assert report.uids.get(role) == [APP_UID], f"{role}: uids {report.uids.get(role)}"


def test_nothing_is_written_outside_tmp_and_the_data_folder(report):
    assert {role: paths for role, paths in report.stray_writes.items() if paths} == {}


def test_the_image_has_no_compiler_or_build_tool(report):
    assert report.image.build_tools == []


def test_the_image_is_within_its_size_target(report):
    assert report.image.size_bytes <= SIZE_TARGET_MB * 1e6, f"{report.image.size_bytes / 1e6:.0f} MB"
