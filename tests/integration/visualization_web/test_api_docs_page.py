"""The API page (/api-docs): Swagger UI from local files, behind login, linked from the menu, no inline script."""

from __future__ import annotations

import re


def test_the_api_page_and_its_files_need_a_login(web):
    client = web.test_client()
    assert client.get("/api-docs").status_code == 302
    assert "/login" in client.get("/api-docs").headers["Location"]
    assert client.get("/api-docs/assets/0/swagger-ui-bundle.js").status_code == 302


def test_the_api_page_serves_swagger_ui_from_this_server(login):
    viewer = login("viewer")
    page = viewer.get("/api-docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-spec-url="/api/v1/openapi.json"' in html
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all('src="/' in attrs for attrs in scripts)  # files of this server, none inline (CSP)
    assert "http://" not in html and "https://" not in html  # no CDN
    for url in re.findall(r'(?:src|href)="(/api-docs/assets/[^"]+)"', html):
        asset = viewer.get(url)
        assert asset.status_code == 200 and len(asset.data) > 100_000, url
        assert asset.headers["Cache-Control"].endswith("immutable")
        assert asset.mimetype in ("text/javascript", "application/javascript", "text/css")
    assert viewer.get("/api-docs/assets/0.0.0/swagger-ui-bundle.js").status_code == 404
    assert viewer.get("/api-docs/assets/0.1.4/../../app.py").status_code == 404


def test_the_menu_links_the_api_page(login):
    html = login("viewer").get("/personas").get_data(as_text=True)
    assert '<a href="/api-docs">API</a>' in html
