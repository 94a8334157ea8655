"""Login, roles, CSRF, API tokens, security headers, inert user strings."""

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest

from tests.integration.visualization_web.conftest import ADMIN_PASSWORD, PASSWORD, Browser

PAGES = ["/", "/personas", "/unknown", "/images", "/ingest", "/models", "/events"]


def test_admin_from_settings_logs_in_and_wrong_password_is_refused(web):
    browser = Browser(web)
    assert browser.login("admin", "wrong-password").status_code == 401
    assert browser.login("admin", ADMIN_PASSWORD).status_code == 302
    assert browser.get("/api/v1/me").get_json() == {"username": "admin", "role": "admin", "via_token": False}


@pytest.mark.parametrize("path", PAGES)
def test_pages_redirect_to_login_without_a_session(web, path):
    response = web.test_client().get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_api_without_login_is_401_json_and_health_is_public(web):
    client = web.test_client()
    for method, path in [("GET", "/api/v1/personas"), ("POST", "/api/v1/personas"), ("GET", "/api/v1/openapi.json"),
                         ("DELETE", "/api/v1/personas/00000000-0000-0000-0000-000000000001")]:  # fmt: skip
        response = client.open(path, method=method, json={"name": "x"})
        assert response.status_code in (401, 403), (method, path)
        assert "message" in response.get_json()["error"]
    assert client.get("/healthz?live=1").status_code == 200


def test_mutations_without_csrf_are_refused_even_when_logged_in(login):
    browser = login("labeler")
    refused = browser.post_json("/api/v1/personas", {"name": "Ada"}, csrf=False)
    assert refused.status_code == 403 and "CSRF" in refused.get_json()["error"]["message"]
    cross_site_form = browser.form("/personas", {"name": "Ada"}, csrf=False)
    assert cross_site_form.status_code == 403
    assert browser.post_json("/api/v1/personas", {"name": "Ada"}).status_code == 201


def test_login_form_itself_needs_csrf(web):
    response = web.test_client().post("/login", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 403


def test_viewer_may_read_but_not_label_and_labeler_may_not_delete(login, web_db):
    viewer = login("viewer")
    assert viewer.get("/api/v1/personas").status_code == 200
    assert viewer.post_json("/api/v1/personas", {"name": "Ada"}).status_code == 403
    labeler = login("labeler")
    pid = labeler.post_json("/api/v1/personas", {"name": "Ada"}).get_json()["persona_id"]
    assert labeler.post_json(f"/api/v1/personas/{pid}", method="DELETE").status_code == 403
    assert labeler.post_json("/api/v1/models/rollback").status_code == 403
    assert labeler.post_json("/api/v1/tokens", {"name": "x"}).status_code == 403


def test_bearer_token_works_without_csrf_and_revoked_token_is_refused(login, web):
    admin = login("admin")
    created = admin.post_json("/api/v1/tokens", {"name": "script", "username": "labeler"})
    assert created.status_code == 201
    secret = created.get_json()["token"]
    client = web.test_client()
    auth = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=auth).get_json()["username"] == "labeler"
    assert client.post("/api/v1/personas", json={"name": "Grace"}, headers=auth).status_code == 201
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    own = admin.post_json("/api/v1/tokens", {"name": "mine"}).get_json()
    assert [t["token_id"] for t in admin.get("/api/v1/tokens").get_json()["tokens"]] == [own["token_id"]]
    assert admin.post_json(f"/api/v1/tokens/{own['token_id']}", method="DELETE").status_code == 200
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {own['token']}"}).status_code == 401
    assert admin.post_json("/api/v1/tokens/nope", method="DELETE").status_code == 404


def test_security_headers_and_script_names_render_as_text(login, web_db):
    from tests.support import seed

    seed.seed_image(web_db, [seed.centers(1)[0]], name="<script>alert(1)</script>.jpg")
    browser = login("labeler")
    listing = browser.get("/images").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.jpg" in listing and "<script>alert(1)" not in listing
    created = browser.post_json("/api/v1/personas", {"name": "<script>alert(1)</script>"})
    # the name rule refuses markup; a name with quotes and parentheses is accepted and escaped
    assert created.status_code == 422
    pid = browser.post_json("/api/v1/personas", {"name": "O'Neil (alert)"}).get_json()["persona_id"]
    page = browser.get(f"/personas/{pid}")
    html = page.get_data(as_text=True)
    assert "O&#39;Neil (alert)" in html
    assert "<script>alert" not in html
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in html.replace('<script src="/static/app.js" defer></script>', "")


def test_logout_ends_the_session(login):
    browser = login("labeler")
    assert browser.form("/logout").status_code == 302
    assert browser.get("/api/v1/me").status_code == 401


def test_a_login_lasts_twelve_hours_from_the_login_however_busy_the_session(web):
    browser = Browser(web)
    cookie = browser.login("labeler", PASSWORD).headers["Set-Cookie"]
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", cookie).group(1))
    assert timedelta(hours=11, minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=12)
    for path in ("/", "/personas", "/api/v1/me"):
        assert "Set-Cookie" not in browser.get(path).headers, path


def test_login_is_impossible_without_a_configured_password(web, monkeypatch):
    from common.infra.settings import get_settings

    monkeypatch.delenv("PP_ADMIN_PASSWORD")
    get_settings.cache_clear()
    try:
        browser = Browser(web)
        response = browser.login("admin", ADMIN_PASSWORD)
        assert response.status_code == 401
        assert "disabled" in response.get_data(as_text=True)
    finally:
        monkeypatch.setenv("PP_ADMIN_PASSWORD", ADMIN_PASSWORD)
        get_settings.cache_clear()


def test_tokens_cli_lists_every_users_tokens_with_expiry_and_revokes(web, web_db, capsys):
    import argparse

    from visualization_web import cli, users

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    assert cli.cmd_tokens(parser.parse_args(["tokens", "create", "labeler", "--name", "ci", "--days", "7"])) == 0
    created = capsys.readouterr().out
    token_id = users.list_tokens(web_db, "labeler")[0].token_id
    assert token_id in created and "expires" in created
    users.create_token(web_db, "viewer", "laptop")
    assert cli.cmd_tokens(parser.parse_args(["tokens", "list"])) == 0
    listing = capsys.readouterr().out
    assert "labeler" in listing and "viewer" in listing and token_id in listing
    assert cli.cmd_tokens(parser.parse_args(["tokens", "list", "viewer"])) == 0
    assert "labeler" not in capsys.readouterr().out
    assert cli.cmd_tokens(parser.parse_args(["tokens", "revoke", "labeler", "--token-id", token_id])) == 0
    assert users.list_tokens(web_db, "labeler") == []
    assert cli.cmd_tokens(parser.parse_args(["tokens", "create", "labeler", "--days", "9999"])) == 2


def test_a_token_may_ask_for_a_shorter_life_but_not_a_longer_one(login):
    admin = login("admin")
    short = admin.post_json("/api/v1/tokens", {"name": "ci", "days": 1})
    assert short.status_code == 201
    expires = datetime.fromisoformat(short.get_json()["expires_at"])
    assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(days=1)
    assert admin.post_json("/api/v1/tokens", {"name": "ci", "days": 91}).status_code == 422
    assert admin.post_json("/api/v1/tokens", {"name": "ci", "days": "7"}).status_code == 422


def test_bootstrap_creates_the_admin_only_on_an_empty_users_table(web_db, clean_tables):
    from visualization_web import users

    try:
        assert users.ensure_admin(web_db, "admin", "first-password-1") is True
        assert users.ensure_admin(web_db, "admin", "second-password-2") is False
        assert users.password_matches(web_db, "admin", "first-password-1")
    finally:  # later tests that do not clean the tables log in with the configured password
        users.put(web_db, "admin", ADMIN_PASSWORD, "admin")


def test_behind_the_ingress_each_client_address_has_its_own_login_counter(web_db, clean_tables, monkeypatch):
    from common.infra.settings import get_settings
    from visualization_web import login_throttle
    from visualization_web.app import create_app

    monkeypatch.setenv("PP_TRUSTED_PROXY_HOPS", "1")
    monkeypatch.setenv("PP_LOGIN_MAX_FAILURES_PER_CLIENT", "3")
    get_settings.cache_clear()
    try:
        app = create_app({"TESTING": True, "SESSION_COOKIE_SECURE": False})
        login_throttle.forget_all()

        def attempt(address: str) -> int:
            browser = Browser(app)
            browser.client.environ_base["HTTP_X_FORWARDED_FOR"] = address
            return browser.login(f"user-{address}", "wrong-password").status_code

        assert [attempt("203.0.113.7") for _ in range(4)] == [401, 401, 401, 429]
        assert attempt("198.51.100.9") == 401  # another client behind the same ingress is not locked out
    finally:
        login_throttle.forget_all()
        monkeypatch.undo()
        get_settings.cache_clear()
