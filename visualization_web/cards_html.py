"""Face cards and persona options as HTML, built in Python: pages show hundreds of them, and a Jinja macro
call per card costs more than the page's database reads. Same markup as ``macros.html: face_card``;
every value is escaped."""

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
