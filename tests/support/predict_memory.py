"""Run as a script: POST one image file to /api/v1/predict in a fresh process; print status, body and peak RSS.

A fresh process whose peak resident memory (the kernel's VmHWM, reset after login and model loading) is
that of the web app answering this one request, not of the test run.
Usage: ``python -m tests.support.predict_memory IMAGE_PATH`` (the test run's environment: keyspace, Redis,
admin password).
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from pathlib import Path


def _status_kb(field: str) -> int:
    return int(Path("/proc/self/status").read_text().split(f"{field}:")[1].split()[0])


def _reset_peak() -> int:
    """Start the kernel's peak-RSS mark (VmHWM) afresh from the current RSS, so only the request counts."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS")


def _csrf(client) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)


def main(path: str) -> None:
    from visualization_web.app import create_app  # not the test conftest: it would pick a new keyspace

    client = create_app({"TESTING": True, "SESSION_COOKIE_SECURE": False}).test_client()
    login = {"username": "admin", "password": os.environ["PP_ADMIN_PASSWORD"], "csrf_token": _csrf(client)}
    assert client.post("/login", data=login).status_code == 302
    csrf = _csrf(client)
    from common.face_models import get_detector, get_embedder
    from common.infra.settings import get_settings

    get_embedder(), get_detector(get_settings().face_detector.value, get_settings())  # loaded as in a warm web pod
    print("after login and models:", _status_kb("VmHWM") // 1024, "MB peak", file=sys.stderr)
    data = Path(path).read_bytes()
    before = _reset_peak()
    response = client.post("/api/v1/predict", headers={"X-CSRF-Token": csrf},
                                   data={"image": (io.BytesIO(data), Path(path).name)})  # fmt: skip
    print(json.dumps({"status": response.status_code, "body": response.get_json(),
                      "baseline_mb": before / 1024, "peak_mb": _status_kb("VmHWM") / 1024}))  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1])
