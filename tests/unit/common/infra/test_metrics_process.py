"""Multiprocess metrics: a service start gets an empty folder of its own (stale folders of dead processes go),
only a Celery worker's main process (not beat, Flower or a test importing the app) switches to it, and
switching after metrics exist is refused (their values would be lost from the sum)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from common.infra.metrics_process import celery_worker_command

ROOT = Path(__file__).resolve().parents[4]


def _python(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PP_METRICS_DIR": str(tmp_path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def test_a_start_gets_an_empty_folder_and_the_folders_of_dead_processes_go(tmp_path):
    root = tmp_path / "pp-metrics"
    (root / "web-999999999").mkdir(parents=True)  # no such process
    (root / "web-999999999" / "counter_1.db").write_bytes(b"old")
    alive = root / f"input-worker-{os.getpid()}"  # this test's process: alive, kept
    alive.mkdir()
    code = (
        "import os; from common.infra import metrics_process as m; f = m.prepare('web');"
        "from common.infra import metrics; metrics.record_task('t', 'success', 0.1);"
        "print(f, os.environ['PROMETHEUS_MULTIPROC_DIR'], sorted(p.name for p in f.iterdir()))"
    )
    result = _python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    folder, env, files = result.stdout.split(" ", 2)
    assert folder == env and Path(folder).parent == root and Path(folder).name.startswith("web-")
    assert "counter_" in files and "histogram_" in files  # the task's values went to files in it
    assert not (root / "web-999999999").exists() and alive.exists()
    assert not Path(folder).exists()  # removed when that start ended


def test_preparing_after_metrics_exist_is_refused(tmp_path):
    result = _python("import common.infra.metrics; from common.infra import metrics_process as m; m.prepare('x')",
                     tmp_path)  # fmt: skip
    assert result.returncode != 0 and "must run before common.infra.metrics is imported" in result.stderr


def test_only_a_celery_worker_switches_when_the_app_is_imported(tmp_path):
    result = _python("import os, input_worker.app; print(os.environ.get('PROMETHEUS_MULTIPROC_DIR'))", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"
    assert celery_worker_command(["/venv/bin/celery", "-A", "input_worker.app", "worker", "-Q", "ingest"])
    assert celery_worker_command(["/lib/python3.11/site-packages/celery/__main__.py", "-A", "x", "worker"])
    assert not celery_worker_command(["/venv/bin/celery", "-A", "trainer_worker.app", "beat"])
    assert not celery_worker_command(["/venv/bin/pytest", "tests/unit"])
