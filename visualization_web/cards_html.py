"""Face cards, persona options and an image's face boxes as HTML, built in Python: pages show hundreds of
them, and a Jinja macro call (or attribute lookups in a loop) per face costs more than the page's database
reads. This is the one place the face-card markup is written: templates call ``face_cards`` (a Jinja global,
see ``app.create_app``); every value is escaped."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from markupsafe import Markup, escape

from visualization_web.queries import FaceCard

_ACTIONS = Markup(
    '<div class="actions"><input type="checkbox" class="pick" aria-label="select face">'
    '<button type="button" class="ok" data-verdict="confirm" title="confirm (c)">✓</button>'
    '<button type="button" class="no" data-verdict="reject" title="reject (x)">✗</button></div>'
)


def face_card(card: FaceCard, selectable: bool = False) -> str:
    face_id = escape(card.face_id)
    verdict = f" {escape(card.verdict)}" if card.verdict else ""
    image = ""
    if card.crop_key:
        image = (f'<img src="/blobs/{escape(card.crop_key)}" alt="face {escape(card.face_id[:8])}" loading="lazy" '
                 'width="96" height="96">')  # fmt: skip
    score = f'<span class="score">{card.score:.2f}</span>' if card.score is not None else ""
    return (f'<figure class="face{verdict}" tabindex="0" data-face-id="{face_id}">{image}<figcaption>'
            f'<a href="/images/{escape(quote(card.image_id, safe=""))}">image</a> {score}</figcaption>'
            f'{_ACTIONS if selectable else ""}</figure>')  # fmt: skip


def face_cards(cards: Iterable[FaceCard], selectable: bool = False) -> Markup:
    return Markup("\n".join(face_card(c, selectable) for c in cards))


_options: dict[int, tuple[list, list[tuple[str, str]]]] = {}


def persona_options(people: list, exclude: object = None) -> Markup:
    """``<option>`` per persona (value: its id, text: its name), leaving out ``exclude`` (a persona id).
    The escaped options of a list are kept while that list object lives (``queries.all_personas`` hands out
    the same cached list for a few seconds), so a page with hundreds of personas does not escape them again."""
    hit = _options.get(id(people))
    if hit is None or hit[0] is not people:
        rendered = [(str(p.persona_id), f'<option value="{escape(str(p.persona_id))}">{escape(p.name)}</option>')
                    for p in people]  # fmt: skip
        _options.clear()
        _options[id(people)] = hit = (people, rendered)
    skip = str(exclude) if exclude is not None else None
    return Markup("".join(html for pid, html in hit[1] if pid != skip))


def _box_label(face: dict) -> tuple[str, str]:
    """What a face's box says, and its colour: its confirmed persona, else its prediction, else unknown."""
    confirmed = [lab for lab in face["labels"] if lab["verdict"] == "confirm"]
    if confirmed:
        return confirmed[0]["persona"] or "confirmed", "#2e9e44"
    p = face["prediction"]
    if p and p["persona"]:
        return f"{p['persona']} {p['score']:.2f}", "#e0a800"
    return "unknown", "#d0342c"


def face_boxes(image: dict) -> Markup:
    """The SVG boxes of an image's faces, each linking to its row and labelled with :func:`_box_label`
    (stroke and font scale with the image width)."""
    stroke = max(2, (image["width"] or 1000) // 300)
    parts = []
    for face in image["faces"]:
        label, color = _box_label(face)
        box = face["box"]
        parts.append(
            f'<a href="#face-{escape(face["face_id"])}"><rect x="{box["left"]}" y="{box["top"]}" '
            f'width="{box["width"]}" height="{box["height"]}" fill="none" stroke="{color}" stroke-width="{stroke}"/>'
            f'<text x="{box["left"]}" y="{max(box["top"] - stroke * 2, stroke * 8)}" fill="{color}" '
            f'font-size="{stroke * 8}" font-family="sans-serif" stroke="#000" stroke-width="{stroke / 4}">'
            f"{escape(label)}</text></a>"
        )
    return Markup("\n".join(parts))


def face_rows(image: dict) -> Markup:
    """A table row per face of an image: crop, box, labels, prediction."""
    parts = []
    for face in image["faces"]:
        box = face["box"]
        crop = (f'<img src="{escape(face["crop_url"])}" alt="" width="48" height="48">'
                if face["crop_url"] else "")  # fmt: skip
        labels = "".join(f"<div>{escape(lab['verdict'])}: {escape(lab['persona'] or lab['persona_id'])}</div>"
                         for lab in face["labels"])  # fmt: skip
        p = face["prediction"]
        prediction = (f"{escape(p['persona'] or 'unknown')} {p['score']:.2f} (model {p['model_version']})"
                      if p else "&ndash;")  # fmt: skip
        parts.append(
            f'<tr id="face-{escape(face["face_id"])}"><td>{crop}</td>'
            f"<td>{box['left']},{box['top']} {box['width']}&times;{box['height']}</td>"
            f"<td>{labels}</td><td>{prediction}</td></tr>"
        )
    return Markup("\n".join(parts))
