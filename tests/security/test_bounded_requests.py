"""Bounded requests: no request makes the web app read a body, or Cassandra rows, beyond what its route needs.

Attacks: a 5 MB JSON body and a chunked body without a length to a JSON route; a persona's faces asked at
page 100,000 of 500 (a LIMIT in the millions); the ingest job list over jobs with thousands of items (each
job's items scanned per request)."""

from __future__ import annotations

import io
import json
import time
import uuid

import pytest

from common.repositories import jobs
from common.repositories.models import ACTIVE_NAME

FIVE_MB = 5 * 1024 * 1024


def _personas(db) -> list:
    return list(db.execute("SELECT persona_id FROM personas"))


def test_a_5_mb_json_body_is_refused_with_413_before_the_view_runs(login, web_db):
    api = login("labeler")
    payload = json.dumps({"name": "x" * FIVE_MB}).encode()
    response = api.client.post("/api/v1/personas", data=payload, content_type="application/json",
                               headers={"X-CSRF-Token": api.csrf})  # fmt: skip
    assert response.status_code == 413
    assert response.get_json()["error"]["status"] == 413
    assert _personas(web_db) == []  # the view never ran


def test_a_chunked_body_without_a_length_is_cut_at_the_route_limit(login, web_db):
    api = login("labeler")
    body = json.dumps({"name": "y" * (1024 * 1024)}).encode()  # 1 MB, far over a JSON route's 64 KB
    response = api.client.post(
        "/api/v1/personas",
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers={"X-CSRF-Token": api.csrf, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # as gunicorn says of a chunked body
    )
    assert response.status_code == 413
    assert _personas(web_db) == []


@pytest.fixture
def watched_statements(web_db, monkeypatch):
    """Every statement the test's requests send to Cassandra, with its bound values (spied, not replaced)."""
    sent: list[tuple[str, list]] = []
    real = web_db.session.execute_async

    def spy(statement, *args, **kwargs):
        query = getattr(statement, "prepared_statement", None)
        cql = query.query_string if query is not None else str(getattr(statement, "query_string", statement))
        values = list(getattr(statement, "values", None) or [])
        sent.append((cql, values))
        return real(statement, *args, **kwargs)

    monkeypatch.setattr(web_db.session, "execute_async", spy)
    return sent


def test_a_page_past_10000_faces_is_refused_without_asking_cassandra_for_millions(login, web_db,
                                                                                  watched_statements):  # fmt: skip
    web_db.execute("INSERT INTO active_model (name, version) VALUES (?, ?)", (ACTIVE_NAME, 1))
    api = login("labeler")
    pid = api.post_json("/api/v1/personas", {"name": "Deep"}).get_json()["persona_id"]
    watched_statements.clear()
    response = api.get(f"/api/v1/personas/{pid}/faces?page=100000&limit=500")
    assert 400 <= response.status_code < 500
    assert "10000" in response.get_json()["error"]["message"]
    limits = [v for cql, values in watched_statements if "LIMIT" in cql for v in values[-1:] if isinstance(v, int)]
    assert all(v <= 10_000 for v in limits), limits
    assert not any("predictions_by_persona" in cql for cql, _ in watched_statements)

    # The last page within the bound still answers, and the page's HTML links no page past it.
    assert api.get(f"/api/v1/personas/{pid}/faces?page=19&limit=500").status_code == 200
    html = api.get(f"/personas/{pid}?page=100000").get_data(as_text=True)
    assert "page=166" not in html  # the last page (165 of 60 faces) has no Next link


def _job_with_items(db, job_id: str, n: int) -> None:
    jobs.create(db, job_id, "/photos", "alice")
    jobs.set_discovered(db, job_id, n)
    for i in range(n):
        key = f"dir/{i:05d}.jpg"
        if i % 3 == 0:
            jobs.record_outcome(db, job_id, key, key, jobs.REJECTED, reason="not an image")
        else:
            jobs.record_outcome(db, job_id, key, key, jobs.STORED, image_id=f"img-{i}")


def test_the_job_list_reads_counters_not_items(login, web_db):
    job_id = f"big-{uuid.uuid4().hex[:8]}"
    _job_with_items(web_db, job_id, 3000)
    jobs.record_outcome(web_db, job_id, "dir/00000.jpg", "dir/00000.jpg", jobs.REJECTED, reason="again")  # redelivery
    for i in (1, 2, 4, 5, 1):  # four extractions, one of them delivered twice
        jobs.record_extracted(web_db, job_id, f"dir/{i:05d}.jpg", 2)
    api = login("viewer")
    listed = api.get("/api/v1/ingest?limit=200").get_json()["jobs"]
    job = next(j for j in listed if j["job_id"] == job_id)
    assert (job["stored"], job["rejected"], job["extracted"], job["faces"]) == (2000, 1000, 4, 8)
    assert job["status"] == "running"
    assert len(job["rejected_files"]) <= 200 and job["rejected_files"][0]["reason"] == "not an image"

    # Without its item rows the job is listed with the same counters: they are not recounted from items.
    web_db.execute("DELETE FROM ingest_job_items WHERE job_id = ? AND bucket IN ?", (job_id, list(range(jobs.BUCKETS))))
    started = time.monotonic()
    again = api.get(f"/api/v1/ingest/{job_id}").get_json()
    assert time.monotonic() - started < 2.0
    assert (again["stored"], again["rejected"], again["extracted"], again["faces"]) == (2000, 1000, 4, 8)
    assert len(again["rejected_files"]) == 200
