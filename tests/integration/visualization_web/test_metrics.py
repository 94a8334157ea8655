"""/metrics: Prometheus text on the metrics port only (no login there; 404 on the public port); corpus counts,
queue depths, active model and each version's quality, requests by route template and status."""

from __future__ import annotations

import re

from tests.support import seed
from trainer_worker import corpus_reconcile

SAMPLE = re.compile(r"^([a-z_][a-z0-9_]*)(\{[^}]*\})? (\S+)$")


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
    """The samples after three requests; request counters as the change since just before them (the counters
    belong to the process, not to one app)."""
    browser = login("labeler")
    before = _samples(_metrics(web).get_data(as_text=True))
    assert browser.post_json("/api/v1/personas", {"name": "Ada"}).status_code == 201
    assert browser.get("/api/v1/personas/not-a-uuid").status_code == 404
    assert web.test_client().get("/api/v1/personas").status_code == 401  # refusals are counted too
    response = _metrics(web)  # no session, no token: the port is reachable only inside the cluster
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    after = _samples(response.get_data(as_text=True))
    return {k: v - before.get(k, 0) if k.startswith("pp_http_") else v for k, v in after.items()}


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
    requests = {k: v for k, v in metrics.items() if k.startswith("pp_http_requests_total") and v}
    assert requests == {
        'pp_http_requests_total{method="POST",route="/api/v1/personas",status="201"}': 1,
        'pp_http_requests_total{method="GET",route="/api/v1/personas/<persona_id>",status="404"}': 1,
        'pp_http_requests_total{method="GET",route="/api/v1/personas",status="401"}': 1,
    }  # route templates, never the ids or names in the path
    count = metrics['pp_http_request_duration_seconds_count{method="POST",route="/api/v1/personas"}']
    assert count == 1
    assert metrics['pp_http_request_duration_seconds_bucket{le="+Inf",method="POST",route="/api/v1/personas"}'] == 1


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
