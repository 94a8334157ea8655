"""Attacks on login, sessions, tokens and the app's internals (issue #24, items 3, 7 and 10).

Each test is an attack someone with network access (or a stolen cookie, or a labeler's account) would try,
against the real app, Cassandra and Redis.
"""

from __future__ import annotations

import hashlib
import secrets
import statistics
import time
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from tests.integration.visualization_web.conftest import ADMIN_PASSWORD, PASSWORD, Browser, csrf_of

OLD_CONSTANT_KEY = "dev-only-insecure"


@pytest.fixture
def throttle_reset(web):
    """Failed-login counters of the test client's address start and end empty (they outlive a test)."""
    from visualization_web import login_throttle

    names = ("admin", "labeler", "viewer", "nobody-here")
    for name in names:
        login_throttle.forget(username=name)
    login_throttle.forget(client="127.0.0.1")
    yield
    for name in names:
        login_throttle.forget(username=name)
    login_throttle.forget(client="127.0.0.1")


@pytest.fixture
def env(monkeypatch):
    """Change settings from the environment for one test; the cached settings follow and are restored."""
    from common.infra.settings import get_settings

    def _set(**values: str | None) -> None:
        for name, value in values.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield _set
    monkeypatch.undo()
    get_settings.cache_clear()


def _cookie_signed_with(key: str, data: dict) -> str:
    forger = Flask("forger")
    forger.secret_key = key
    serializer = SecureCookieSessionInterface().get_signing_serializer(forger)
    return serializer.dumps(data)


def _me(app, cookie: str):
    client = app.test_client()
    client.set_cookie("pp_session", cookie)
    return client.get("/api/v1/me")


def _session_cookie(browser: Browser) -> str:
    cookie = browser.client.get_cookie("pp_session")
    assert cookie is not None
    return cookie.value


# --- item 3: no fixed secrets -------------------------------------------------------------------


def test_a_dev_session_flag_makes_nobody_admin_outside_dev_mode(web):
    """A cookie saying dev=True, even signed with the app's real key (minted while dev mode was on), or with
    the key the code used to ship, is no session at all on a production app."""
    forged = {"user": "mallory", "dev": True}
    assert _me(web, _cookie_signed_with(web.secret_key, forged)).status_code == 401
    assert _me(web, _cookie_signed_with(OLD_CONSTANT_KEY, forged)).status_code == 401


def test_dev_mode_without_a_key_signs_with_a_generated_key_not_a_constant(web_db, env, tmp_path):
    from visualization_web.app import create_app

    env(PP_WEB_DEV_MODE="1", PP_WEB_SECRET_KEY=None, PP_STATE_DIR=str(tmp_path), PP_ADMIN_PASSWORD=None)
    app = create_app({"TESTING": True, "SESSION_COOKIE_SECURE": False})
    assert app.secret_key != OLD_CONSTANT_KEY and len(app.secret_key) >= 32
    assert _me(app, _cookie_signed_with(OLD_CONSTANT_KEY, {"user": "mallory", "dev": True})).status_code == 401
    developer = Browser(app)  # what dev mode is for: any name logs in, as admin, through the form
    assert developer.login("dev", "").status_code == 302
    assert developer.get("/api/v1/me").get_json()["role"] == "admin"
    # every process of the machine uses the same generated key (kept in the state folder, owner-only)
    assert create_app({"TESTING": True}).secret_key == app.secret_key
    assert (tmp_path / "web-dev-secret-key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("key", [None, "", "test-secret-key", "x" * 31])
def test_the_app_refuses_to_start_without_a_long_secret_key(web_db, env, key):
    from visualization_web.app import create_app
    from visualization_web.secret_key import SecretKeyError

    env(PP_WEB_DEV_MODE=None, PP_WEB_SECRET_KEY=key)
    with pytest.raises(SecretKeyError, match="PP_WEB_SECRET_KEY"):
        create_app()


# --- item 7: login and sessions -----------------------------------------------------------------


def test_the_eleventh_wrong_password_for_one_name_is_429_with_retry_after(web, throttle_reset):
    browser = Browser(web)
    for _ in range(10):
        assert browser.login("labeler", "wrong-password").status_code == 401
    refused = browser.login("labeler", PASSWORD)  # even the right password: the guesser learns nothing
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 900
    assert "Too many failed logins" in refused.get_data(as_text=True)
    as_json = browser.client.post("/login", data={"username": "labeler", "password": PASSWORD,
                                                  "csrf_token": browser.csrf},
                                  headers={"Accept": "application/json"})  # fmt: skip
    assert as_json.status_code == 429 and as_json.headers["Retry-After"]
    assert as_json.get_json()["error"]["status"] == 429
    assert Browser(web).login("viewer", PASSWORD).status_code == 302  # other names are not locked


def test_one_client_guessing_many_names_is_throttled(web, throttle_reset):
    browser = Browser(web)
    for i in range(50):
        assert browser.login(f"guess-{i}", "wrong-password").status_code == 401
    refused = browser.login("someone-else", "wrong-password")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0


def test_a_missing_user_costs_what_an_existing_one_costs(web, throttle_reset):
    """Timing must not tell which user names exist (medians of a few tries, a generous bound)."""

    def median_seconds(username: str) -> float:
        browser, times = Browser(web), []
        for _ in range(5):
            started = time.perf_counter()
            assert browser.login(username, "wrong-password").status_code == 401
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    median_seconds("labeler")  # warm up
    existing, missing = median_seconds("labeler"), median_seconds("nobody-here")
    assert max(existing, missing) / min(existing, missing) < 2.0, (existing, missing)


def test_an_admin_login_does_not_reset_a_password_changed_with_the_cli(web, web_db, throttle_reset):
    from visualization_web import users

    users.put(web_db, "admin", "changed-password-1", "admin")  # what `persona-pipeline users add` does
    try:
        assert Browser(web).login("admin", ADMIN_PASSWORD).status_code == 401
        assert Browser(web).login("admin", "changed-password-1").status_code == 302
        assert Browser(web).login("admin", ADMIN_PASSWORD).status_code == 401
    finally:  # later tests that do not clean the tables log in with the configured password
        users.put(web_db, "admin", ADMIN_PASSWORD, "admin")


def test_the_csrf_token_changes_at_login(web):
    browser = Browser(web)
    before = csrf_of(browser.get("/login").get_data(as_text=True))
    assert browser.login("labeler", PASSWORD).status_code == 302
    after = csrf_of(browser.get("/login").get_data(as_text=True))
    assert after != before
    stale = browser.client.post("/api/v1/personas", json={"name": "Ada"}, headers={"X-CSRF-Token": before})
    assert stale.status_code == 403
    fresh = browser.client.post("/api/v1/personas", json={"name": "Ada"}, headers={"X-CSRF-Token": after})
    assert fresh.status_code == 201


def test_a_session_cookie_replayed_after_logout_is_refused(login, web):
    browser = login("labeler")
    stolen = _session_cookie(browser)
    assert _me(web, stolen).status_code == 200
    assert browser.form("/logout").status_code == 302
    assert _me(web, stolen).status_code == 401


@pytest.mark.parametrize("change", ["password", "role"])
def test_a_password_or_role_change_ends_existing_sessions(web, web_db, login, env, change):
    from visualization_web import users

    env(PP_USER_CACHE_SECONDS="0")  # the default (5 s) only delays this by that much
    browser = login("viewer")
    stolen = _session_cookie(browser)
    assert _me(web, stolen).status_code == 200
    if change == "password":
        users.put(web_db, "viewer", "new-password-456", "viewer")
    else:
        users.put(web_db, "viewer", PASSWORD, "labeler")
    assert _me(web, stolen).status_code == 401
    assert browser.get("/api/v1/me").status_code == 401


def test_an_expired_api_token_is_refused(web, web_db):
    """A token made 91 days ago (before expiry existed) and one past its own expiry no longer work."""
    from visualization_web import users

    old_secret = f"pp_0123456789ab_{secrets.token_urlsafe(32)}"
    created = datetime.now(UTC) - timedelta(days=91)
    web_db.execute(
        "INSERT INTO api_tokens (token_hash, token_id, username, name, created_at) VALUES (?, ?, ?, ?, ?)",
        (hashlib.sha256(old_secret.encode()).hexdigest(), "0123456789ab", "labeler", "old", created),
    )
    client = web.test_client()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {old_secret}"}).status_code == 401

    token, secret = users.create_token(web_db, "labeler", "new")
    assert timedelta(days=89) < token.expires_at - datetime.now(UTC) <= timedelta(days=90)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    web_db.execute(
        "UPDATE api_tokens SET expires_at = ? WHERE token_hash = ?",
        (datetime.now(UTC) - timedelta(seconds=1), hashlib.sha256(secret.encode()).hexdigest()),
    )
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_an_admin_lists_and_revokes_another_users_token(web, web_db, login):
    from visualization_web import users

    token, secret = users.create_token(web_db, "labeler", "laptop")  # made with the CLI, say
    admin = login("admin")
    listed = admin.get("/api/v1/tokens?username=labeler").get_json()["tokens"]
    assert [(t["token_id"], t["username"], t["name"]) for t in listed] == [(token.token_id, "labeler", "laptop")]
    assert listed[0]["expires_at"]
    everyone = admin.get("/api/v1/tokens?all=true").get_json()["tokens"]
    assert token.token_id in {t["token_id"] for t in everyone}
    revoked = admin.post_json(f"/api/v1/tokens/{token.token_id}?username=labeler", method="DELETE")
    assert revoked.status_code == 200
    assert web.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert admin.get("/api/v1/tokens?username=labeler").get_json()["tokens"] == []
    assert login("labeler").get("/api/v1/tokens?username=admin").status_code == 403


# --- item 10: internals private -----------------------------------------------------------------


def test_metrics_are_not_served_on_the_public_port(web, settings):
    client = web.test_client()
    assert client.get("/metrics").status_code == 404
    metrics_port = f"http://localhost:{settings.metrics_port}"
    assert client.get("/metrics", base_url=metrics_port).status_code == 200
    assert client.get("/api/v1/me", base_url=metrics_port).status_code == 404  # that port serves nothing else
    assert client.get("/login", base_url=metrics_port).status_code == 404


def test_anonymous_health_says_only_ok_or_not(web, env):
    from visualization_web import health

    client = web.test_client()
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.get_json() == {"status": "ok"}
    assert client.get("/healthz?workers=1").get_json() == {"status": "ok"}  # no worker names, no broadcast
    env(PP_REDIS_URL="redis://127.0.0.1:1/0")
    health._last = None
    down = client.get("/healthz?workers=0")
    assert down.status_code == 503 and down.get_json() == {"status": "unavailable"}
    assert "Error" not in down.get_data(as_text=True) and "redis" not in down.get_data(as_text=True)


def test_health_details_need_an_admin(web, login):
    client = web.test_client()
    assert client.get("/healthz/details", headers={"Accept": "application/json"}).status_code == 401
    assert login("labeler").get("/healthz/details?workers=0").status_code == 403
    details = login("admin").get("/healthz/details?workers=0")
    assert details.status_code == 200 and details.get_json()["checks"]["cassandra"]["ok"]
