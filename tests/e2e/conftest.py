"""Browser fixtures: the web app served by a real WSGI server, driven by real headless Chromium (Playwright)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

# The admin password the app reads, set for the whole run in tests/conftest.py.
from tests.conftest import TEST_ADMIN_PASSWORD as E2E_ADMIN_PASSWORD

CHROMIUM = "/usr/bin/chromium"
# --headless is passed by Playwright itself (headless=True); listed for a reader who starts chromium by hand.
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-dev-shm-usage"]  # fmt: skip
VIEWPORT = {"width": 1280, "height": 1000}


def artifacts_dir() -> Path:
    """Screenshots go to $PP_TEST_ARTIFACTS, else tests/e2e/artifacts/ (git-ignored)."""
    folder = Path(os.environ.get("PP_TEST_ARTIFACTS") or Path(__file__).with_name("artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def serve(app) -> tuple[str, object, threading.Thread]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{server.server_port}", server, thread


@pytest.fixture
def web_server(clean_tables, redis_client):
    """The app on 127.0.0.1:<random port> (werkzeug, threaded); yields its base URL."""
    from common.infra.settings import get_settings
    from visualization_web.app import create_app

    get_settings.cache_clear()
    app = create_app({"SESSION_COOKIE_SECURE": False})  # plain http on 127.0.0.1
    base, server, thread = serve(app)
    yield base
    server.shutdown()
    thread.join(10)


@pytest.fixture
def browser_page():
    """A Playwright page in Debian's headless Chromium; console errors are collected in ``page.errors``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROME_FLAGS)
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.errors = []  # type: ignore[attr-defined]
        page.on("console", lambda msg: msg.type == "error" and page.errors.append(msg.text))
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        yield page
        context.close()
        browser.close()


def login(page, base: str, next_path: str = "/personas") -> None:
    page.goto(f"{base}{next_path}")
    assert "/login" in page.url
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", E2E_ADMIN_PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"**{next_path}")
