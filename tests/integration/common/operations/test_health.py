"""`/healthz`, `/healthz/details` and `persona-pipeline health` report real dependency state, and recover by
themselves. The public `/healthz` says only ok or not; the details (worker names, what is down) are for admins."""

import time

import pytest

from common.infra.celery_app import celery_app
from common.infra.local_services.cassandra import LocalCassandra
from visualization_web.app import create_app

ADMIN = ("health-admin", "health-admin-password")


def _admin_client(app, db):
    """A client with an admin's API token (tables are shared with other tests: no bootstrap admin here)."""
    from visualization_web import users

    users.put(db, ADMIN[0], ADMIN[1], "admin")
    _, secret = users.create_token(db, ADMIN[0], "health")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


def _poll(client, want: int, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        response = client.get("/healthz")
        if response.status_code == want or time.monotonic() > deadline:
            return response
        time.sleep(1)


def test_workers_answer_ping_and_health_is_green(db, start_worker):
    start_worker("input_worker.app", "ingest,extract", name="health-input")
    start_worker("trainer_worker.app", "retrain", name="health-retrain")
    replies = celery_app.control.ping(timeout=3.0)
    names = {name.split("@")[0] for reply in replies for name in reply}
    assert {"health-input", "health-retrain"} <= names
    app = create_app()
    public = app.test_client().get("/healthz")
    assert public.status_code == 200 and public.json == {"status": "ok"}
    response = _admin_client(app, db).get("/healthz/details")
    assert response.status_code == 200, response.json
    assert response.json["checks"]["cassandra"]["ok"] and response.json["checks"]["workers"]["ok"]
    assert "health-input" in response.json["checks"]["workers"]["detail"]


def test_health_names_redis_when_it_is_unreachable(db, monkeypatch):
    from common.infra.settings import get_settings

    app = create_app()
    client = _admin_client(app, db)
    monkeypatch.setenv("PP_REDIS_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    try:
        public = app.test_client().get("/healthz?workers=0")
        response = client.get("/healthz/details?workers=0")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert public.status_code == 503 and public.json == {"status": "unavailable"}
    assert response.status_code == 503
    assert response.json["down"] == ["redis"]


@pytest.mark.disruptive
def test_cassandra_down_gives_503_naming_it_then_green_again_without_restart(db, settings):
    client = create_app().test_client()
    assert client.get("/healthz?workers=0").status_code == 200
    cassandra = LocalCassandra(settings.state_dir, native_port=settings.cassandra_port)
    cassandra.stop()
    try:
        down = _poll(client, 503, timeout=30)
        assert down.status_code == 503 and down.json == {"status": "unavailable"}
        from common.operations.health import check_all  # what `persona-pipeline health` prints names it

        assert "cassandra" in check_all(settings, include_workers=False).as_dict()["down"]
    finally:
        cassandra.start()
    # the same app (same driver session) turns green once the driver has reconnected
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        response = client.get("/healthz?workers=0")
        if response.status_code == 200:
            break
        time.sleep(2)
    assert response.status_code == 200, response.json
