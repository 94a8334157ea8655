"""/metrics: Prometheus text on the metrics port only (no login there; 404 on the public port); corpus counts,
queue depths, active model, per-endpoint requests."""

from __future__ import annotations

import re

from tests.support import seed
from trainer_worker import corpus_reconcile

SAMPLE = re.compile(r"^([a-z_]+)(\{[^}]*\})? (\S+)$")


def _metrics(web):
    from common.infra.settings import get_settings

    return web.test_client().get("/metrics", base_url=f"http://localhost:{get_settings().metrics_port}")


def _samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"not Prometheus text format: {line!r}"
        out[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return out


def _scrape(web, login) -> dict[str, float]:
    browser = login("labeler")
    assert browser.post_json("/api/v1/personas", {"name": "Ada"}).status_code == 201
    assert browser.get("/api/v1/personas/not-a-uuid").status_code == 404
    assert web.test_client().get("/api/v1/personas").status_code == 401  # refusals are counted too
    response = _metrics(web)  # no session, no token: the port is reachable only inside the cluster
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return _samples(response.get_data(as_text=True))


def test_metrics_count_the_corpus_queues_model_and_requests(web, web_db, login, redis_client):
    seed.seed_faces(web_db, 3, seed.centers(1)[0], per_image=3)
    seed.set_active_model(web_db, 4)
    redis_client.rpush("extract", "pending-1", "pending-2")  # not Celery messages: removed below
    try:
        metrics = _scrape(web, login)
    finally:
        redis_client.delete("extract")
    assert metrics['pp_corpus_objects{kind="images"}'] == 1
    assert metrics['pp_corpus_objects{kind="faces"}'] == 3
    assert metrics['pp_corpus_objects{kind="personas"}'] == 1
    assert "pp_corpus_counted_age_seconds" not in metrics  # the counters were never counted exactly yet
    assert metrics['pp_queue_depth{queue="extract"}'] == 2
    assert {k for k in metrics if k.startswith("pp_queue_depth")} == {
        f'pp_queue_depth{{queue="{q}"}}' for q in ("ingest", "extract", "retrain", "reclassify")
    }
    assert metrics["pp_active_model_version"] == 4
    assert metrics['pp_up{component="cassandra"}'] == 1 and metrics['pp_up{component="redis"}'] == 1
    assert metrics['pp_http_requests_total{endpoint="api.personas_create",method="POST",status="201"}'] == 1
    assert metrics['pp_http_requests_total{endpoint="api.personas_show",method="GET",status="404"}'] == 1
    assert metrics['pp_http_requests_total{endpoint="api.personas_index",method="GET",status="401"}'] == 1
    count = metrics['pp_http_request_duration_seconds_count{endpoint="api.personas_create"}']
    assert metrics['pp_http_request_duration_seconds_bucket{endpoint="api.personas_create",le="+Inf"}'] == count


def test_metrics_reveal_no_names_or_secrets(web, login):
    browser = login("labeler")
    browser.post_json("/api/v1/personas", {"name": "Secret Person"})
    text = _metrics(web).get_data(as_text=True)
    assert "Secret Person" not in text and "password" not in text.lower() and "pp_session" not in text


def test_metrics_give_the_age_of_the_last_exact_count(web, web_db):
    seed.seed_faces(web_db, 2, seed.centers(1)[0], per_image=1)
    corpus_reconcile.reconcile(web_db)
    metrics = _samples(_metrics(web).get_data(as_text=True))
    assert metrics['pp_corpus_objects{kind="faces"}'] == 2
    assert 0 <= metrics["pp_corpus_counted_age_seconds"] < 60
