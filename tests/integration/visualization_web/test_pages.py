"""Every page renders for a logged-in user; the page forms do what they say."""

import re

from common.repositories import labels, personas
from common.repositories import models as models_repo
from tests.support import seed


def _seed_two_groups(db):
    a, b = seed.centers(2)
    return seed.seed_faces(db, 3, a, seed=1), seed.seed_faces(db, 2, b, seed=2)


def test_every_page_renders(login, web_db):
    group_a, _ = _seed_two_groups(web_db)
    browser = login("admin")
    pid = browser.post_json("/api/v1/personas", {"name": "Ada"}).get_json()["persona_id"]
    browser.post_json("/api/v1/labels", {"face_id": group_a[0], "persona_id": pid, "verdict": "confirm"})
    image_id = seed.faces.get(web_db, group_a[0]).image_id
    paths = [
        "/",
        "/personas",
        f"/personas/{pid}",
        f"/personas/{pid}?order=confident&page=1",
        "/images",
        f"/images/{image_id}",
        "/unknown",
        "/ingest",
        "/models",
        "/events",
        "/events?kind=label.&actor=admin",
    ]
    for path in paths:
        response = browser.get(path)
        assert response.status_code == 200, path
    assert browser.get("/personas/nope").status_code == 404
    assert browser.get("/images/nope").status_code == 404


def test_dashboard_shows_counts_queues_and_no_model_yet(login, web_db):
    _seed_two_groups(web_db)
    html = login("viewer").get("/").get_data(as_text=True)
    for queue in ("ingest", "extract", "retrain", "reclassify"):
        assert f"<td>{queue}</td>" in html
    assert "No model yet" in html and 'class="n">5<' in html  # five faces
    assert re.search(r"Kept on write; not counted exactly yet \(every \d+ s\)", html)


def test_image_page_draws_a_box_per_face_with_its_persona(login, web_db):
    group_a, _ = _seed_two_groups(web_db)
    browser = login("labeler")
    pid = browser.post_json("/api/v1/personas", {"name": "Ada"}).get_json()["persona_id"]
    browser.post_json("/api/v1/labels", {"face_id": group_a[0], "persona_id": pid, "verdict": "confirm"})
    html = browser.get(f"/images/{seed.faces.get(web_db, group_a[0]).image_id}").get_data(as_text=True)
    assert len(re.findall(r"<rect ", html)) == 1 and ">Ada</text>" in html


def test_persona_page_lists_confirmed_faces_with_review_controls(login, web_db):
    group_a, _ = _seed_two_groups(web_db)
    browser = login("labeler")
    pid = browser.post_json("/api/v1/personas", {"name": "Ada"}).get_json()["persona_id"]
    browser.post_json("/api/v1/labels", {"face_ids": group_a[:2], "persona_id": pid, "verdict": "confirm"})
    html = browser.get(f"/personas/{pid}").get_data(as_text=True)
    confirmed = html.split('id="confirmed"')[1].split("</section>")[0]
    assert confirmed.count('class="face confirm"') == 2
    assert 'data-verdict="confirm"' in html and "Undo last" in html


def test_unknown_faces_are_grouped_and_a_group_becomes_a_persona(login, web_db):
    group_a, group_b = _seed_two_groups(web_db)
    browser = login("labeler")
    html = browser.get("/unknown").get_data(as_text=True)
    assert "Group 1" in html and "Group 2" in html and "Group 3" not in html
    response = browser.form("/unknown/create", {"name": "Grace", "face_id": group_a})
    assert response.status_code == 302
    grace = personas.find_by_name(web_db, "Grace")
    assert {lab.face_id for lab in labels.for_persona(web_db, grace.persona_id)} == set(group_a)
    html = browser.get("/unknown").get_data(as_text=True)  # confirmed faces are no longer unknown
    assert "Group 1" in html and "(2 faces)" in html and "Group 2" not in html
    browser.form("/unknown/assign", {"persona_name": "Nobody", "face_id": group_b})
    assert "No persona is named &#39;Nobody&#39;" in browser.get("/unknown").get_data(as_text=True)
    assert len(labels.for_persona(web_db, grace.persona_id)) == 3
    browser.form("/unknown/assign", {"persona_name": "grace", "face_id": group_b})  # names match case-folded
    assert len(labels.for_persona(web_db, grace.persona_id)) == 5


def test_unknown_page_shows_the_largest_groups_and_one_list_of_persona_names(login, web_db, monkeypatch):
    from visualization_web.pages import unknown_page

    _seed_two_groups(web_db)
    browser = login("labeler")
    for name in ("Ada", "Bo"):
        browser.post_json("/api/v1/personas", {"name": name})
    monkeypatch.setattr(unknown_page, "MAX_GROUPS_SHOWN", 1)
    html = browser.get("/unknown").get_data(as_text=True)
    assert "Group 1" in html and "(3 faces)" in html and "Group 2" not in html
    assert "1 more groups (2 faces) are not shown" in html
    assert html.count("<datalist") == 1 and html.count('<option value="Ada">') == 1


def test_persona_forms_create_rename_merge_delete_and_undo(login, web_db):
    browser = login("admin")
    assert browser.form("/personas", {"name": "Ada"}).status_code == 302
    assert browser.form("/personas", {"name": "ada"}).status_code == 409
    ada = personas.find_by_name(web_db, "Ada")
    browser.form(f"/personas/{ada.persona_id}/rename", {"name": "Ada L"})
    browser.form("/personas", {"name": "Bob"})
    bob = personas.find_by_name(web_db, "Bob")
    browser.form(f"/personas/{bob.persona_id}/merge", {"target_id": str(ada.persona_id)})
    assert [p.name for p in personas.list_all(web_db)] == ["Ada L"]
    events_html = browser.get("/events").get_data(as_text=True)
    merge_id = re.search(r"/events/([0-9a-f-]+)/undo", events_html).group(1)
    assert browser.form(f"/events/{merge_id}/undo").status_code == 302
    assert [p.name for p in personas.list_all(web_db)] == ["Ada L", "Bob"]
    browser.form(f"/personas/{bob.persona_id}/delete", {"erase_faces": "1"})
    assert [p.name for p in personas.list_all(web_db)] == ["Ada L"]


def test_ingest_page_forms(login, tmp_path):
    browser = login("labeler")
    assert browser.form("/ingest/folder", {"source": str(tmp_path)}).status_code == 403
    assert browser.form("/ingest/upload", {}).status_code == 422
    html = browser.get("/ingest").get_data(as_text=True)
    assert 'id="dropzone"' in html


def test_models_page_buttons_need_the_right_role(login):
    labeler = login("labeler")
    assert labeler.form("/models/rollback").status_code == 403
    assert labeler.form("/models/retrain").status_code == 302
    assert "Retrain now" in labeler.get("/models").get_data(as_text=True)


def test_events_page_says_why_a_queue_message_was_dropped(login, web_db):
    from datetime import UTC, datetime

    from common.task_runtime import poison_messages

    poison_messages.record(web_db, "ingest", "not JSON <script>alert(1)</script>", "garbage", 7, "ab" * 32,
                           datetime.now(UTC).isoformat())  # fmt: skip
    html = login("viewer").get("/events?kind=queue.").get_data(as_text=True)
    assert "queue.bad_message" in html
    assert "(not JSON &lt;script&gt;alert(1)&lt;/script&gt;)" in html and "<script>alert" not in html


def test_persona_list_shows_confirmed_counts_and_the_newest_confirmed_face_as_cover(login, web_db):
    group_a, group_b = _seed_two_groups(web_db)
    browser = login("labeler")
    ada = browser.post_json("/api/v1/personas", {"name": "Ada"}).get_json()["persona_id"]
    browser.post_json("/api/v1/personas", {"name": "Bo"})
    for face_id in group_a[:2]:
        browser.post_json("/api/v1/labels", {"face_id": face_id, "persona_id": ada, "verdict": "confirm"})
    browser.post_json("/api/v1/labels", {"face_id": group_b[0], "persona_id": ada, "verdict": "reject"})

    def listed() -> tuple[list[str], list[str]]:
        html = browser.get("/personas").get_data(as_text=True)
        return re.findall(r"(\d+) confirmed", html), re.findall(r'<img src="/blobs/([^"]+)"', html)

    newest = seed.faces.get(web_db, group_a[1]).crop_key
    assert listed() == (["2", "0"], [newest])  # Ada, then Bo (no cover); the rejection is not counted
    api = {p["name"]: p for p in browser.get("/api/v1/personas").get_json()["personas"]}
    assert api["Ada"]["confirmed"] == 2 and api["Bo"]["confirmed"] == 0
    browser.post_json("/api/v1/labels", {"face_id": group_a[2], "persona_id": ada, "verdict": "confirm"})
    third = seed.faces.get(web_db, group_a[2]).crop_key
    assert listed() == (["3", "0"], [third])  # the cached list was rendered again after the label


def test_models_page_draws_a_small_confusion_matrix_and_lists_the_confusions_of_a_large_one(login, web_db):
    import uuid as uuid_module

    def version(number: int, n_personas: int, cells: list[list[int]]) -> None:
        labels = [str(uuid_module.UUID(int=i + 1)) for i in range(n_personas)] + ["unknown"]
        metrics = {"accuracy": 0.9, "macro_f1": 0.9, "per_persona": {}, "confusion": {"labels": labels, "cells": cells}}
        models_repo.insert_version(web_db, models_repo.ModelVersion(number, "candidate", metrics=metrics))

    version(1, 2, [[0, 0, 5], [0, 1, 2], [1, 1, 4]])
    version(2, 40, [[i, i, 3] for i in range(40)] + [[7, 9, 2]])
    browser = login("viewer")
    small = browser.get("/models?version=1").get_data(as_text=True)
    assert 'aria-label="confusion matrix"' in small and "Most confused" in small
    large = browser.get("/models?version=2").get_data(as_text=True)
    assert 'aria-label="confusion matrix"' not in large and "41 labels: too many to draw" in large
    assert "<tr><td>00000000</td><td>00000000</td><td>2</td><td>40.0%</td></tr>" in large  # 2 of 5 faces


def test_the_persona_page_stops_at_its_last_bounded_page(login):
    browser = login("labeler")
    pid = browser.post_json("/api/v1/personas", {"name": "Deep"}).get_json()["persona_id"]
    html = browser.get(f"/personas/{pid}?page=100000").get_data(as_text=True)
    assert "page=164" in html  # the page asked for is the last one (165 of 60 faces): Previous, no Next
    assert "page=166" not in html
