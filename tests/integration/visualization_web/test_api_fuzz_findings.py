"""Requests the fuzzer found to cause 500s: each now gets a clear 4xx JSON error."""

from __future__ import annotations

import uuid


def test_fuzzer_findings_are_clear_client_errors(login):
    admin = login("admin")
    not_a_time_uuid = str(uuid.uuid4())
    cases = [
        ("GET", "/api/v1/models/6510742880", None, 404),  # beyond a CQL int
        ("POST", "/api/v1/models/6510742880/promote", None, 404),
        ("POST", "/api/v1/undo", {"event_id": not_a_time_uuid}, 404),  # event ids are time-based UUIDs
        ("GET", f"/api/v1/events?before={not_a_time_uuid}", None, 400),
        ("POST", "/api/v1/tokens", {"username": ""}, 422),  # an empty partition key
        ("POST", "/api/v1/personas", {"name": "\udb0e"}, 422),  # a lone surrogate cannot be stored
        ("POST", "/api/v1/labels", {"persona_id": not_a_time_uuid, "verdict": "confirm", "face_ids": ["\ud800"]},
         422),
    ]  # fmt: skip
    for method, path, payload, status in cases:
        response = admin.post_json(path, payload, method=method) if method == "POST" else admin.get(path)
        assert response.status_code == status, (method, path, response.get_data(as_text=True))
        assert response.get_json()["error"]["message"]
    assert admin.get(f"/events?before={not_a_time_uuid}").status_code == 200  # the page starts from the newest
