"""The whole loop in real headless Chromium against the running system with REAL workers.

Log in, create two personas, upload photos through the ingest page, watch the jobs finish, assign the
unknown-face groups to the personas, see a model trained and promoted, upload more photos and see them
predicted, confirm a prediction (another retrain: the predictions are re-stamped by the new model), undo.
Screenshots go to the artifacts folder (tests/e2e/artifacts/ or $PP_TEST_ARTIFACTS).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import pytest
from playwright.sync_api import Page

from common.infra.task_names import QUEUES
from common.repositories import events, faces, images, labels, personas, predictions
from tests.e2e.conftest import artifacts_dir, login
from tests.support.face_images import write_folder

pytestmark = pytest.mark.e2e

PEOPLE = {"astronaut": "Eileen Collins", "grace_hopper": "Grace Hopper"}
JOB_DONE = """() => { const jobs = Array.from(document.querySelectorAll('.job'));
  return jobs.length > 0 && jobs.every((j) => j.querySelector('.status').textContent.trim() === 'done'); }"""


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(artifacts_dir() / f"full-loop-{name}.png"), full_page=True)


def reload_until(page: Page, url: str, check, timeout: float, what: str):
    """Reload ``url`` until ``check(page)`` is truthy (the pages are server-rendered snapshots)."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto(url)
        value = check(page)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} on {url}")
        time.sleep(1.0)


def person_of_face(db, face_id: str) -> str:
    """Which source photo a face came from (the uploaded file's name starts with the person)."""
    name = images.get(db, faces.get(db, face_id).image_id).source_name or ""
    return next((person for person in PEOPLE if person in name), name)


def upload(page: Page, base: str, paths: list[Path]) -> None:
    page.goto(f"{base}/ingest")
    page.set_input_files("#files", [str(p) for p in paths])
    page.wait_for_selector(f"#chosen:has-text('{len(paths)} file(s) chosen')")
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector(".flash:has-text('started')")
    # the page polls the API once a second and fills in the progress bar and the counts
    page.wait_for_function(JOB_DONE, timeout=120_000, polling=500)


def model_version_on(page: Page) -> int | None:
    match = re.search(r"\(model (\d+)\)", page.inner_text("h2:has-text('Predicted')"))
    return int(match.group(1)) if match else None


def predicted_ids(page: Page) -> list[str]:
    return page.eval_on_selector_all("#predicted figure.face", "els => els.map((e) => e.dataset.faceId)")


def test_full_loop_with_real_workers(web_server, browser_page, clean_tables, redis_client, start_worker, tmp_path):
    db, page, base = clean_tables, browser_page, web_server
    redis_client.delete(*QUEUES)  # tasks left by earlier tests name rows that clean_tables removed
    start_worker("input_worker.app", "ingest,extract", name="e2e-input")
    start_worker("trainer_worker.app", "retrain", name="e2e-retrain", concurrency=1)
    start_worker("trainer_worker.app", "reclassify", name="e2e-reclassify")

    login(page, base, "/personas")
    for name in PEOPLE.values():
        page.goto(f"{base}/personas")
        page.fill("#create-persona input[name=name]", name)
        page.click("#create-persona button")
        page.wait_for_selector(f"h1:has-text('{name}')")
    ids = {person: personas.find_by_name(db, name).persona_id for person, name in PEOPLE.items()}
    page.goto(f"{base}/personas")
    shot(page, "1-personas")

    # 1. upload six photos (alternating astronaut / Grace Hopper); the job reaches done
    upload(page, base, write_folder(tmp_path / "first", 6))
    assert "done" in page.inner_text(".job .status")
    shot(page, "2-ingest-done")
    assert sum(1 for _ in faces.scan(db)) >= 4, "the detector found too few faces in the uploaded photos"

    # 2. no model yet: the unknown page groups the faces by similarity; assign each group to its persona
    page.goto(f"{base}/unknown")
    shot(page, "3-unknown-groups")
    for _ in range(len(PEOPLE)):
        groups = page.query_selector_all("section.group")
        assert groups, "no unknown-face groups left to assign"
        group = groups[0]
        face_ids = group.eval_on_selector_all("figure.face", "els => els.map((e) => e.dataset.faceId)")
        people = Counter(person_of_face(db, f) for f in face_ids)
        assert len(people) == 1, f"a group mixes people: {people}"
        person = next(iter(people))
        group.query_selector("input[name=persona_name]").fill(PEOPLE[person])  # offered by the names' datalist
        group.query_selector("button:has-text('Assign this group')").click()
        page.wait_for_selector(".flash:has-text('faces assigned')")
    for person, persona_id in ids.items():
        assert len(labels.for_persona(db, persona_id, labels.CONFIRM)) >= 2, f"too few faces confirmed for {person}"

    # 3. the labels trigger a retrain: the models page shows an active version that knows both personas
    # (the two assignments may train twice: a first version with one persona, then one with both)
    def knows_both(p: Page) -> bool:
        charted = p.eval_on_selector_all("svg.chart text", "els => els.map((e) => e.textContent)")
        return p.query_selector("tr.active") is not None and all(n in charted for n in PEOPLE.values())

    reload_until(page, f"{base}/models", knows_both, 90, "an active model version with both personas")
    first_version = int(page.inner_text("tr.active td:first-child"))
    shot(page, "4-models-active")

    # 4. more photos: the new faces are predicted by the active model and show up for review
    upload(page, base, write_folder(tmp_path / "second", 6, start=6))
    grace_url = f"{base}/personas/{ids['grace_hopper']}"
    reload_until(page, grace_url, lambda p: len(predicted_ids(p)) >= 2, 60, "predicted faces for Grace Hopper")
    assert model_version_on(page) == first_version
    waiting = predicted_ids(page)
    assert all(person_of_face(db, f) == "grace_hopper" for f in waiting), "a prediction names the wrong person"
    shot(page, "5-persona-predicted")

    # 5. confirm the first prediction with the keyboard; the face moves to the confirmed section
    page.wait_for_function("(id) => document.activeElement && document.activeElement.dataset.faceId === id",
                           arg=waiting[0])  # fmt: skip
    page.keyboard.press("c")
    page.wait_for_function("(id) => document.querySelector(`#confirmed figure.face[data-face-id='${id}']`)",
                           arg=waiting[0])  # fmt: skip
    assert labels.confirmed_persona(labels.for_face(db, waiting[0])) == ids["grace_hopper"]

    # 6. the confirmation retrains: a newer version is promoted and re-stamps the remaining predictions
    def restamped(p: Page) -> bool:
        version = model_version_on(p)
        return version is not None and version > first_version and len(predicted_ids(p)) >= 1

    reload_until(page, grace_url, restamped, 90, "predictions from a newer model")
    second_version = model_version_on(page)
    assert waiting[0] not in predicted_ids(page)
    for face_id in predicted_ids(page):
        assert predictions.for_face(db, face_id).model_version == second_version
    shot(page, "6-persona-retrained")

    # 7. confirm one more, then undo it with "u": the face is back in review, its label gone
    target = predicted_ids(page)[0]
    page.focus(f"#predicted figure.face[data-face-id='{target}']")
    page.keyboard.press("c")
    page.wait_for_function("(id) => document.querySelector(`#confirmed figure.face[data-face-id='${id}']`)",
                           arg=target)  # fmt: skip
    page.keyboard.press("u")
    page.wait_for_function("(id) => document.querySelector(`#predicted figure.face[data-face-id='${id}']`)",
                           arg=target)  # fmt: skip
    assert labels.for_face(db, target) == []
    assert events.recent(db, limit=1)[0].kind == "label.undo"

    # the image page draws the boxes with the persona / prediction; the models page lists both versions
    page.click(f"#confirmed figure.face[data-face-id='{waiting[0]}'] a")
    page.wait_for_selector("h1")
    assert "Grace Hopper" in page.content()
    shot(page, "7-image")
    page.goto(f"{base}/models")
    assert page.query_selector_all("table tr td:first-child a").__len__() >= 2
    shot(page, "8-models")
    page.goto(f"{base}/")
    shot(page, "9-dashboard")

    # no page broke a Content-Security-Policy rule or raised a script error
    assert page.errors == []
