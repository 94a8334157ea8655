"""Web app fixtures: the real app on the test keyspace, users of each role, logged-in clients."""

from __future__ import annotations

import re

import pytest

from tests.conftest import TEST_ADMIN_PASSWORD as ADMIN_PASSWORD

PASSWORD = "password-123"


@pytest.fixture(scope="session")
def web_db(db):
    return db


@pytest.fixture
def web(web_db, clean_tables, redis_client):
    """A fresh app and clean tables; users admin / labeler / viewer exist."""
    from common.infra.settings import get_settings
    from visualization_web import login_throttle, users
    from visualization_web.app import create_app

    get_settings.cache_clear()
    app = create_app({"TESTING": True, "SESSION_COOKIE_SECURE": False})
    login_throttle.forget_all()  # failed logins of earlier tests (same address) do not count here
    users.put(web_db, "labeler", PASSWORD, "labeler")
    users.put(web_db, "viewer", PASSWORD, "viewer")
    return app


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "page has no CSRF meta tag"
    return match.group(1)


class Browser:
    """A Flask test client that logs in through the form and sends the CSRF header like app.js."""

    def __init__(self, app):
        self.client = app.test_client()
        self.csrf = ""

    def login(self, username: str, password: str):
        page = self.client.get("/login")
        self.csrf = csrf_of(page.get_data(as_text=True))
        response = self.client.post("/login", data={"username": username, "password": password,
                                                     "csrf_token": self.csrf})  # fmt: skip
        if response.status_code == 302:  # a login renews the CSRF token: read the new one
            self.csrf = csrf_of(self.client.get("/login").get_data(as_text=True))
        return response

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post_json(self, path: str, payload=None, method: str = "POST", csrf: bool = True):
        headers = {"X-CSRF-Token": self.csrf} if csrf else {}
        return self.client.open(path, method=method, json=payload, headers=headers)

    def form(self, path: str, data: dict | None = None, csrf: bool = True, **kwargs):
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = self.csrf
        return self.client.post(path, data=data, **kwargs)


@pytest.fixture
def login(web):
    def _login(username: str = "labeler") -> Browser:
        browser = Browser(web)
        password = ADMIN_PASSWORD if username == "admin" else PASSWORD
        response = browser.login(username, password)
        assert response.status_code == 302, response.get_data(as_text=True)
        return browser

    return _login
