"""The progress of the active version's full reclassification pass, in ``/api/v1/models`` and on the dashboard."""

from __future__ import annotations

from common.infra.reclassify_passes import keys
from tests.support import seed


def test_models_api_and_dashboard_show_the_active_versions_pass(login, web_db, redis_client):
    api = login("viewer")
    assert api.get("/api/v1/models").get_json()["reclassify_pass"] is None  # no model, no pass
    seed.set_active_model(web_db, 4)
    pass_key, shards_key, _ = keys(4)
    redis_client.hset(pass_key, mapping={"pass_id": "p1", "planned": 5, "complete": 1, "faces": 812,
                                         "started_at": "2026-01-01T00:00:00+00:00"})  # fmt: skip
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
        }
        html = api.get("/").get_data(as_text=True)
        assert "3 of 5 shards · 812 predictions written" in html
        redis_client.delete(shards_key)
        redis_client.hset(pass_key, "finished_at", "2026-01-01T00:01:00+00:00")
        assert "Reclassification of every face: done" in api.get("/").get_data(as_text=True)
    finally:
        redis_client.delete(pass_key, shards_key)
