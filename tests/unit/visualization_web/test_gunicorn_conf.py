"""The web server runs under gunicorn configured from the PP_WEB_* settings, however it is started."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CONF = "python:visualization_web.gunicorn_conf"
APP = "visualization_web.app:create_app()"


def gunicorn(*args: str, **env: str) -> subprocess.CompletedProcess:
    # the PP_WEB_* defaults apply; the session key stays (the app refuses to start without one)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PP_WEB_") or k == "PP_WEB_SECRET_KEY"}
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", CONF, *args, APP],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def printed_config(**env: str) -> dict[str, str]:
    result = gunicorn("--print-config", **env)
    assert result.returncode == 0, result.stderr
    pairs = (line.partition("=") for line in result.stdout.splitlines())
    return {name.strip(): value.strip() for name, sep, value in pairs if sep}


def test_by_default_two_processes_of_four_threads_serve_and_log_each_request():
    config = printed_config()
    assert (config["workers"], config["worker_class"], config["threads"]) == ("2", "gthread", "4")
    assert config["accesslog"] == "-"
    assert int(config["graceful_timeout"]) < 30  # in-flight requests finish inside the pods' grace period


def test_the_settings_choose_the_processes_and_their_kind():
    config = printed_config(PP_WEB_WORKERS="3", PP_WEB_THREADS="6", PP_WEB_TIMEOUT="45")
    assert (config["workers"], config["threads"], config["timeout"]) == ("3", "6", "45")
    config = printed_config(PP_WEB_WORKERS="5", PP_WEB_WORKER_CLASS="sync", PP_WEB_THREADS="6")
    assert (config["workers"], config["worker_class"], config["threads"]) == ("5", "sync", "1")


def test_a_worker_class_we_do_not_support_stops_the_server_naming_the_setting():
    result = gunicorn("--check-config", PP_WEB_WORKER_CLASS="gevent")
    assert result.returncode != 0
    assert "web_worker_class" in result.stderr and "'sync' or 'gthread'" in result.stderr


def test_make_run_and_the_image_start_the_web_app_with_this_configuration():
    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    web = procfile["web"].split()
    assert web[web.index("-c") + 1] == CONF and web[-1].strip('"') == APP
    cmd = re.search(r"^CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.MULTILINE).group(1)
    assert json.loads(cmd) == ["gunicorn", "-c", CONF, "--bind", "0.0.0.0:8000", "--bind", "0.0.0.0:9464", APP]
