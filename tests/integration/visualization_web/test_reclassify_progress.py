"""The progress of the newest full (or audit) pass, in ``/api/v1/models`` and on the dashboard."""

from __future__ import annotations

from common.infra.reclassify_passes import PASSES_KEY, keys
from tests.support import seed


def test_models_api_and_dashboard_show_the_active_versions_pass(login, web_db, redis_client):
    api = login("viewer")
    assert api.get("/api/v1/models").get_json()["reclassify_pass"] is None  # no model, no pass
    seed.set_active_model(web_db, 4)
    pass_key, shards_key, _ = keys(4)
    redis_client.hset(pass_key, mapping={"pass_id": "p1", "planned": 5, "complete": 1, "faces": 812, "decisions": 7,
                                         "kind": "audit", "started_at": "2026-01-01T00:00:00+00:00"})  # fmt: skip
    redis_client.sadd(PASSES_KEY, 4)
    redis_client.hset(shards_key, mapping={"3": "10 20", "4": "20 30"})  # two shards unfinished
    try:
        shown = api.get("/api/v1/models").get_json()["reclassify_pass"]
        assert shown == {
            "version": 4,
            "pass_id": "p1",
            "shards_total": 5,
            "shards_done": 3,
            "planning": False,
            "faces_predicted": 812,
            "started_at": "2026-01-01T00:00:00+00:00",
            "finished_at": None,
            "decisions_changed": 7,
            "kind": "audit",
        }
        html = api.get("/").get_data(as_text=True)
        assert "Audit pass of v4 over every face: 3 of 5 shards · 812 predictions written · 7 decisions changed" in html
        redis_client.delete(shards_key)
        redis_client.hset(pass_key, "finished_at", "2026-01-01T00:01:00+00:00")
        assert "Audit pass of v4 over every face: done" in api.get("/").get_data(as_text=True)
    finally:
        redis_client.delete(pass_key, shards_key, PASSES_KEY)
