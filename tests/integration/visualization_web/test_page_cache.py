"""Persona and image pages come from the rendered-page cache until something under them changes."""

from __future__ import annotations

import re
import uuid

import redis

from common.repositories import faces
from tests.integration.visualization_web.conftest import csrf_of
from tests.support import seed


def _persona_with_faces(browser, db):
    center = seed.centers(1)[0]
    face_ids = seed.seed_faces(db, 3, center, seed=11)
    pid = browser.post_json("/api/v1/personas", {"name": "Grace"}).get_json()["persona_id"]
    browser.post_json("/api/v1/labels", {"face_id": face_ids[0], "persona_id": pid, "verdict": "confirm"})
    return pid, face_ids


def test_one_cached_page_serves_every_viewer_with_their_own_token_and_name(login, web_db):
    admin, labeler = login("admin"), login("labeler")
    pid, _ = _persona_with_faces(admin, web_db)
    first = admin.get(f"/personas/{pid}")
    second = labeler.get(f"/personas/{pid}")
    third = labeler.get(f"/personas/{pid}")
    assert first.headers["X-Page-Cache"] == "miss"
    assert third.headers["X-Page-Cache"] == "hit"
    for browser, response, name in ((admin, first, "admin"), (labeler, third, "labeler")):
        html = response.get_data(as_text=True)
        assert csrf_of(html) == browser.csrf
        assert set(re.findall(r'name="csrf_token" value="([^"]+)"', html)) == {browser.csrf}
        assert f'<span class="who">{name} (' in html
        assert "ppcache" not in html
    assert second.headers["X-Page-Cache"] in ("hit", "miss")  # roles differ: admin's entry is not the labeler's


def test_a_label_from_the_ui_shows_on_the_next_view(login, web_db):
    browser = login("labeler")
    pid, face_ids = _persona_with_faces(browser, web_db)
    page = browser.get(f"/personas/{pid}").get_data(as_text=True)
    assert page.count('class="face confirm"') == 1
    assert browser.get(f"/personas/{pid}").headers["X-Page-Cache"] == "hit"
    browser.post_json("/api/v1/labels", {"face_id": face_ids[1], "persona_id": pid, "verdict": "confirm"})
    again = browser.get(f"/personas/{pid}")
    assert again.headers["X-Page-Cache"] == "miss"
    assert again.get_data(as_text=True).count('class="face confirm"') == 2


def test_predictions_written_by_the_trainer_show_on_the_next_view(login, web_db):
    browser = login("viewer")
    admin = login("admin")
    pid, face_ids = _persona_with_faces(admin, web_db)
    image_id = faces.get(web_db, face_ids[2]).image_id
    assert 'data-face-id="' + face_ids[2] not in browser.get(f"/personas/{pid}").get_data(as_text=True)
    assert browser.get(f"/images/{image_id}").headers["X-Page-Cache"] == "miss"
    assert browser.get(f"/images/{image_id}").headers["X-Page-Cache"] == "hit"
    # What the trainer's reclassify does, in another process: the web app is not told directly.
    seed.set_active_model(web_db, 1)
    seed.predict(web_db, face_ids[2], image_id, uuid.UUID(pid), 0.87)
    persona_page = browser.get(f"/personas/{pid}").get_data(as_text=True)
    assert f'data-face-id="{face_ids[2]}"' in persona_page and "0.87" in persona_page
    image_page = browser.get(f"/images/{image_id}")
    assert image_page.headers["X-Page-Cache"] == "miss" and "Grace 0.87" in image_page.get_data(as_text=True)


def test_pages_render_without_redis(login, web_db, monkeypatch):
    browser = login("labeler")
    pid, _ = _persona_with_faces(browser, web_db)
    from common.infra import redis_client

    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    monkeypatch.setattr(redis_client, "redis_connection", lambda: dead)
    monkeypatch.setattr(redis_client, "_down_until", 0.0)
    for _ in range(2):  # the first request finds Redis down, the second does not even try
        response = browser.get(f"/personas/{pid}")
        assert response.status_code == 200 and "X-Page-Cache" not in response.headers
        assert "Grace" in response.get_data(as_text=True)
    assert redis_client.unavailable()


def test_made_up_query_parameters_share_one_entry(login, web_db):
    browser = login("labeler")
    pid, _ = _persona_with_faces(browser, web_db)
    assert browser.get(f"/personas/{pid}?x=1").headers["X-Page-Cache"] == "miss"
    assert browser.get(f"/personas/{pid}?x=2&order=uncertain").headers["X-Page-Cache"] == "hit"
    assert browser.get(f"/personas/{pid}?order=confident").headers["X-Page-Cache"] == "miss"


def test_a_page_keeps_one_entry_however_often_it_changes(login, web_db, redis_client):
    browser = login("labeler")
    pid, face_ids = _persona_with_faces(browser, web_db)
    image_id = faces.get(web_db, face_ids[1]).image_id
    for verdict in ("confirm", "reject", "confirm"):
        browser.post_json("/api/v1/labels", {"face_id": face_ids[1], "persona_id": pid, "verdict": verdict})
        assert browser.get(f"/images/{image_id}").headers["X-Page-Cache"] == "miss"
    assert browser.get(f"/images/{image_id}").headers["X-Page-Cache"] == "hit"
    assert len(redis_client.keys(f"pp:{web_db.keyspace}:page:*image:{image_id}")) == 1
