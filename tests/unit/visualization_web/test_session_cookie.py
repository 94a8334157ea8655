"""Sessions read through the verified-cookie cache behave exactly like Flask's signed cookies."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask, session

from visualization_web import session_cookie
from visualization_web.session_cookie import VerifiedCookieSessionInterface


@pytest.fixture()
def app() -> Flask:
    app = Flask(__name__)
    app.secret_key = "k" * 32
    app.permanent_session_lifetime = timedelta(hours=12)
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False  # as the web app: the cookie is written at login only
    app.session_interface = VerifiedCookieSessionInterface(max_remembered=2)

    @app.post("/login/<name>")
    def login(name: str):
        session.clear()
        session.update(user=name, roles=["labeler"])
        session.permanent = True
        return "ok"

    @app.get("/me")
    def me():
        user = session.get("user", "-")
        session.get("roles", []).append("admin")  # a view changing what it read must not change the next read
        return user

    return app


def cookie_of(client) -> str:
    return client.get_cookie("session").value


def test_the_same_cookie_reads_the_same_session_every_time(app):
    client = app.test_client()
    client.post("/login/ada")
    assert [client.get("/me").get_data(as_text=True) for _ in range(3)] == ["ada"] * 3
    with app.test_request_context(headers={"Cookie": f"session={cookie_of(client)}"}):
        assert session["roles"] == ["labeler"]


def test_a_tampered_cookie_is_an_empty_session_after_the_genuine_one_was_seen(app):
    client = app.test_client()
    client.post("/login/ada")
    assert client.get("/me").get_data(as_text=True) == "ada"
    genuine = cookie_of(client)
    forged = genuine[:-2] + ("AA" if not genuine.endswith("AA") else "BB")
    client.set_cookie("session", forged)
    assert client.get("/me").get_data(as_text=True) == "-"


def test_a_remembered_cookie_expires_with_its_lifetime(app, monkeypatch):
    client = app.test_client()
    client.post("/login/ada")
    assert client.get("/me").get_data(as_text=True) == "ada"
    later = session_cookie.time.time() + timedelta(hours=12, minutes=1).total_seconds()
    monkeypatch.setattr(session_cookie.time, "time", lambda: later)
    assert client.get("/me").get_data(as_text=True) == "-"


def test_a_new_secret_key_refuses_cookies_remembered_under_the_old_one(app):
    client = app.test_client()
    client.post("/login/ada")
    assert client.get("/me").get_data(as_text=True) == "ada"
    app.secret_key = "n" * 32
    assert client.get("/me").get_data(as_text=True) == "-"


def test_more_sessions_than_it_remembers_still_all_read_back(app):
    clients = [app.test_client() for _ in range(5)]
    for number, client in enumerate(clients):
        client.post(f"/login/user{number}")
    for _ in range(2):
        assert [c.get("/me").get_data(as_text=True) for c in clients] == [f"user{n}" for n in range(5)]
