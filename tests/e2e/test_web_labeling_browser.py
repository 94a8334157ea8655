"""In real headless Chromium: log in, create a persona, confirm a face with the keyboard, see it move, undo."""

from __future__ import annotations

from playwright.sync_api import Page

from common.repositories import events, labels, personas
from tests.e2e.conftest import artifacts_dir, login
from tests.support import seed


def _ids_in(page: Page, section: str) -> list[str]:
    return page.eval_on_selector_all(f"#{section} figure.face", "els => els.map((e) => e.dataset.faceId)")


def _focused(page: Page) -> str | None:
    return page.evaluate("() => { const e = document.activeElement; return e && e.dataset ? e.dataset.faceId : null; }")


def _wait(page: Page, condition: str, arg=None) -> None:
    page.wait_for_function(condition, arg=arg, timeout=10_000)


IDS = "([s, ids]) => JSON.stringify(Array.from(document.querySelectorAll(`#${s} figure.face`))" \
      ".map((e) => e.dataset.faceId)) === JSON.stringify(ids)"  # fmt: skip
FOCUSED = "(id) => document.activeElement && document.activeElement.dataset.faceId === id"


def test_confirm_with_keyboard_then_undo(web_server, browser_page, clean_tables):
    db, page = clean_tables, browser_page
    login(page, web_server)

    page.fill("#create-persona input[name=name]", "Grace Hopper")
    page.click("#create-persona button")
    page.wait_for_selector("h1:has-text('Grace Hopper')")
    persona = personas.find_by_name(db, "Grace Hopper")

    # the active model predicts three faces as Grace, with different confidence
    seed.set_active_model(db, 1)
    face_ids = seed.seed_faces(db, 3, seed.centers(1)[0], per_image=3)
    image_id = seed.faces.get(db, face_ids[0]).image_id
    for face_id, score in zip(face_ids, (0.55, 0.7, 0.9), strict=True):
        seed.predict(db, face_id, image_id, persona.persona_id, score)
    page.reload()
    assert _ids_in(page, "predicted") == face_ids  # most uncertain first
    _wait(page, FOCUSED, face_ids[0])

    page.keyboard.press("c")
    _wait(page, IDS, ["confirmed", [face_ids[0]]])
    assert _ids_in(page, "predicted") == face_ids[1:]
    assert labels.confirmed_persona(labels.for_face(db, face_ids[0])) == persona.persona_id
    # focus moved to the next face: reject it with x
    _wait(page, FOCUSED, face_ids[1])
    page.keyboard.press("x")
    _wait(page, IDS, ["rejected", [face_ids[1]]])
    counts = page.evaluate("() => ['confirm', 'reject'].map((v) => document.querySelector(`[data-count=${v}]`)"
                           ".textContent)")  # fmt: skip
    assert counts == ["1", "1"]
    page.screenshot(path=str(artifacts_dir() / "labeling-persona.png"), full_page=True)

    page.keyboard.press("u")
    _wait(page, IDS, ["rejected", []])
    page.click("#undo")
    _wait(page, IDS, ["confirmed", []])
    assert sorted(_ids_in(page, "predicted")) == sorted(face_ids)
    assert labels.for_face(db, face_ids[0]) == []
    kinds = [e.kind for e in events.recent(db, limit=10)][:4]
    assert kinds == ["label.undo", "label.undo", "label.reject", "label.confirm"]

    # the page broke no Content-Security-Policy rule and raised no script error
    assert page.errors == []
