"""The read side of the pages and the API: plain data, gathered from the repositories."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from common.classifier import registry as registry_module
from common.db import Database
from common.ingest.sources import redact
from common.repositories import face_cards, faces, images, labels, personas, predictions, refreshes
from common.repositories import models as models_repo
from visualization_web import read_generation

log = logging.getLogger(__name__)

# The most rows one request may make Cassandra read for a list (a page of faces, a persona's labels): pages
# beyond it are refused (``beyond_rows``), and an unbounded list is read up to it.
MAX_ROWS = 10_000


class TooDeep(ValueError):
    """A page that would read more than ``MAX_ROWS`` rows."""


def beyond_rows(page: int, per_page: int) -> bool:
    """True when page ``page`` (from 0) of ``per_page`` items lies past the first ``MAX_ROWS`` items."""
    return (page + 1) * per_page > MAX_ROWS


def last_page(per_page: int) -> int:
    return max(0, MAX_ROWS // per_page - 1)


@dataclass(frozen=True)
class FaceCard:
    face_id: str
    image_id: str
    crop_key: str
    box: tuple[int, int, int, int]
    score: float | None = None
    verdict: str | None = None

    def as_dict(self) -> dict:
        return {"face_id": self.face_id, "image_id": self.image_id, "crop_url": crop_url(self.crop_key),
                "box": list(self.box), "score": self.score, "verdict": self.verdict}  # fmt: skip


def crop_url(key: str) -> str | None:
    return f"/blobs/{key}" if key else None


# --- model registry ------------------------------------------------------------------------------


def active_version(db: Database) -> int | None:
    try:
        return registry_module.active_version(db)
    except Exception as exc:
        log.warning("active model version unavailable: %s", exc)
        return None


def queue_version(db: Database) -> int | None:
    """The review-queue generation to read (see ``models_repo.queue_version``)."""
    return models_repo.queue_version(db)


# --- concurrent reads ----------------------------------------------------------------------------


CARD_CACHE_SIZE = 50_000
CARD_CACHE_SECONDS = 600.0
_cards: OrderedDict[str, tuple[float, faces.FaceCrop]] = OrderedDict()
_cards_lock = threading.Lock()


def card_rows(db: Database, face_ids: list[str]) -> dict[str, faces.FaceCrop]:
    """What a face card shows (no embedding: it is the bulk of a face row and a card does not need it).

    Cached per process (LRU, 10 min): a face's image, box and crop never change under its id (the id is
    derived from them), so a review page reads only the faces it has not shown lately."""
    now = time.monotonic()
    found: dict[str, faces.FaceCrop] = {}
    with _cards_lock:
        for fid in face_ids:
            hit = _cards.get(fid)
            if hit is not None and now - hit[0] < CARD_CACHE_SECONDS:
                found[fid] = hit[1]
                _cards.move_to_end(fid)
    missing = [fid for fid in face_ids if fid not in found]
    if missing:
        fresh = faces.crops(db, missing)
        found.update(fresh)
        with _cards_lock:
            for fid, row in fresh.items():
                _cards[fid] = (now, row)
            while len(_cards) > CARD_CACHE_SIZE:
                _cards.popitem(last=False)
    return found


def _card(crop: faces.FaceCrop, score: float | None = None, verdict: str | None = None) -> FaceCard:
    return FaceCard(crop.face_id, crop.image_id, crop.crop_key, crop.box, score, verdict)


def labels_of_persona(db: Database, persona_id: uuid.UUID, limit: int = MAX_ROWS) -> list[labels.Label]:
    """A persona's labels from all its buckets at once (at most ``limit`` of them), newest first."""
    out = labels.of_persona(db, persona_id, limit)
    oldest = datetime.min.replace(tzinfo=UTC)
    out.sort(key=lambda lab: lab.labeled_at.replace(tzinfo=UTC) if lab.labeled_at else oldest, reverse=True)
    return out


def review_queue(db: Database, persona_id: uuid.UUID | None, version: int, limit: int, offset: int = 0,
                 most_confident_first: bool = False) -> list[predictions.Prediction]:  # fmt: skip
    """Like ``predictions.queue`` (the bucketed review queue, LIMIT per bucket), all buckets at once. A window
    past the first ``MAX_ROWS`` predictions raises ``TooDeep``: each bucket would be read up to its end."""
    if limit + offset > MAX_ROWS:
        raise TooDeep(f"only the first {MAX_ROWS} predictions can be paged through")
    wanted = limit + offset
    # Faces spread evenly over the buckets: read a fair share (with slack) of each first, then re-read in
    # full only the buckets whose share ended inside the top ``wanted`` (their next rows might belong there).
    share = min(wanted, wanted // predictions.BUCKETS * 2 + 4)
    buckets = list(range(predictions.BUCKETS))
    first = predictions.queue_buckets(db, persona_id, version, buckets, share, most_confident_first)
    results = dict(zip(buckets, first, strict=True))

    def rank(p: predictions.Prediction) -> tuple:
        return (p.score, p.face_id)

    def top() -> list:
        merged = sorted((r for rows in results.values() for r in rows), key=rank, reverse=most_confident_first)
        return merged[:wanted]

    best = top()
    if share < wanted:
        cutoff = rank(best[-1]) if len(best) == wanted else None

        def may_have_more(rows: list) -> bool:
            if len(rows) < share:
                return False
            if cutoff is None:
                return True
            last = rank(rows[-1])
            return last >= cutoff if most_confident_first else last <= cutoff

        again = [b for b in buckets if may_have_more(results[b])]
        more = predictions.queue_buckets(db, persona_id, version, again, wanted, most_confident_first)
        for b, rows in zip(again, more, strict=True):
            results[b] = rows
        if again:
            best = top()
    return best[offset:]


# --- faces ---------------------------------------------------------------------------------------


def faces_by_id(db: Database, face_ids: list[str]) -> dict[str, faces.Face]:
    """Many faces at once (concurrent single-partition reads)."""
    return faces.get_many_concurrently(db, face_ids)


def cards(db: Database, face_ids: list[str], scores: dict[str, float] | None = None,
          verdict: str | None = None) -> list[FaceCard]:  # fmt: skip
    found = faces_by_id(db, face_ids)
    scores = scores or {}
    return [
        FaceCard(f.face_id, f.image_id, f.crop_key, f.box, scores.get(f.face_id), verdict)
        for fid in face_ids if (f := found.get(fid)) is not None
    ]  # fmt: skip


@dataclass
class PersonaFaces:
    confirmed: list[FaceCard]
    rejected: list[FaceCard]
    predicted: list[FaceCard]
    confirmed_total: int
    rejected_total: int
    model_version: int | None
    image_ids: list[str]
    predictions_current: bool = True  # False: a refresh of its predictions after a label is still running


def persona_faces(db: Database, persona_id: uuid.UUID, page: int = 0, per_page: int = 60,
                  most_confident_first: bool = False) -> PersonaFaces:  # fmt: skip
    """One page of a persona's review: three rounds of concurrent reads (labels, queue, cards). Pages past the
    first ``MAX_ROWS`` faces raise ``TooDeep``; at most ``MAX_ROWS`` labels are read (and counted)."""
    if beyond_rows(page, per_page):
        raise TooDeep(f"page {page} of {per_page} faces lies past the first {MAX_ROWS} faces: "
                      f"the last page is {last_page(per_page)}; use order=confident to see the other end")  # fmt: skip
    own = labels_of_persona(db, persona_id)
    confirmed = [lab.face_id for lab in own if lab.verdict == labels.CONFIRM]
    rejected = [lab.face_id for lab in own if lab.verdict == labels.REJECT]
    window = slice(page * per_page, (page + 1) * per_page)
    version = active_version(db)
    queue = []
    if version is not None:
        generation = queue_version(db) or version
        queue = review_queue(db, persona_id, generation, per_page, page * per_page, most_confident_first)
    found = card_rows(db, [*confirmed[window], *rejected[window], *(p.face_id for p in queue)])
    confirmed_cards = [_card(found[f], verdict="confirm") for f in confirmed[window] if f in found]
    return PersonaFaces(
        confirmed=confirmed_cards,
        rejected=[_card(found[f], verdict="reject") for f in rejected[window] if f in found],
        predicted=[_card(found[p.face_id], p.score) for p in queue if p.face_id in found],
        confirmed_total=len(confirmed),
        rejected_total=len(rejected),
        model_version=version,
        image_ids=list(dict.fromkeys(c.image_id for c in confirmed_cards)),
        predictions_current=predictions_current(db, persona_id, version),
    )


def predictions_current(db: Database, persona_id: uuid.UUID, active: int | None) -> bool:
    """Whether every prediction that can involve the persona has been refreshed since the last label."""
    pending = _pending_personas(db, active)
    return pending is not None and persona_id not in pending


def _pending_personas(db: Database, active: int | None = None) -> frozenset[uuid.UUID] | None:
    """Personas whose predictions a running refresh is changing (None: all; see ``refreshes.pending_personas``).
    Empty when that cannot be read: the pages still show the predictions they have."""
    try:
        return refreshes.pending_personas(db, active if active is not None else active_version(db))
    except Exception as exc:
        log.warning("refresh state unavailable: %s", exc)
        return frozenset()


def confirmed_of_personas(db: Database, people: list[personas.Persona]) -> list[tuple[int, str | None]]:
    """Per persona, in order: its confirmed faces and the newest of them. One round of concurrent reads
    (three columns of each persona's label buckets): 300 personas, 12,000 labels took 1.5 s one persona
    after the other, here."""
    oldest = datetime.min.replace(tzinfo=UTC)
    out = []
    for rows in labels.of_personas(db, [p.persona_id for p in people]):
        own = [r for r in rows if r.verdict == labels.CONFIRM]
        newest = max(own, key=lambda r: r.labeled_at.replace(tzinfo=UTC) if r.labeled_at else oldest, default=None)
        out.append((len(own), newest.face_id if newest else None))
    return out


def persona_summaries(db: Database) -> list[dict]:
    """Every persona with its confirmed count and its newest confirmed face as cover (the covers from the
    card cache)."""
    people = all_personas(db)
    summaries = confirmed_of_personas(db, people)
    covers = card_rows(db, [face_id for _, face_id in summaries if face_id])
    pending = _pending_personas(db)
    return [
        {"persona": p, "confirmed": n, "cover": _card(covers[face_id]) if face_id in covers else None,
         "predictions_current": pending is not None and p.persona_id not in pending}
        for p, (n, face_id) in zip(people, summaries, strict=True)
    ]  # fmt: skip


PERSONAS_SECONDS = 60.0
_personas: dict[str, tuple[int, float, list[personas.Persona], dict[uuid.UUID, str]]] = {}


def _persona_list(db: Database) -> tuple[list[personas.Persona], dict[uuid.UUID, str]]:
    """Every persona sorted by name, and id -> name. Kept per process while the read-model generation stands
    (every write to personas moves it: ``common.repositories.read_model``), at most a minute; read afresh when Redis is
    unreachable."""
    current = read_generation.current(db.keyspace)
    now = time.monotonic()
    hit = _personas.get(db.keyspace)
    if current is not None and hit is not None and hit[0] == current and now - hit[1] < PERSONAS_SECONDS:
        return hit[2], hit[3]
    people = personas.list_all(db)
    names = {p.persona_id: p.name for p in people}
    if current is not None:
        _personas[db.keyspace] = (current, now, people, names)
    return people, names


def all_personas(db: Database) -> list[personas.Persona]:
    return _persona_list(db)[0]


def persona_names(db: Database) -> dict[uuid.UUID, str]:
    """Persona id -> name (shared between requests: do not modify it)."""
    return _persona_list(db)[1]


def face_detail(db: Database, face_id: str) -> dict | None:
    """One face with its labels and current prediction, read from the tables of record."""
    card = face_cards.from_tables(db, [face_id]).get(face_id)
    return None if card is None else _card_dict(card, persona_names(db))


def _card_dict(card: face_cards.Card, names: dict[uuid.UUID, str]) -> dict:
    p = card.prediction
    left, top, width, height = card.box
    return {
        "face_id": card.face_id,
        "image_id": card.image_id,
        "box": {"left": left, "top": top, "width": width, "height": height},
        "detector": card.detector,
        "det_score": card.det_score,
        "crop_url": crop_url(card.crop_key),
        "labels": [
            {
                "persona_id": str(lab.persona_id),
                "persona": names.get(lab.persona_id),
                "verdict": lab.verdict,
                "labeled_by": lab.labeled_by,
            }
            for lab in card.labels
        ],
        "prediction": None
        if p is None
        else {
            "persona_id": str(p.persona_id) if p.persona_id else None,
            "persona": names.get(p.persona_id) if p.persona_id else None,
            "score": p.score,
            "distance": p.distance,
            "model_version": p.model_version,
        },
    }


def image_detail(db: Database, image_id: str, with_rotation: bool = False) -> dict | None:
    """The image and its faces: one read, of the image's ``faces_by_image`` partition, where the image's card
    and its faces' cards are. An image stored before its card existed (migration 0007) is read from the
    ``images`` table, faces stored before theirs (0006) from the face tables. ``with_rotation`` (the image
    page) adds ``rotation``: the turn (degrees clockwise) that shows the stored original as its boxes are."""
    card_rows = face_cards.rows_of_image(db, image_id)
    image = images.from_card_row(card_rows[0]) if card_rows else None
    if image is None:
        image = images.get(db, image_id)
        if image is None:
            return None
    names = persona_names(db)
    by_id: dict[str, dict | None] = {}
    older = []
    for row in card_rows:
        if face_cards.has_card(row):
            by_id[row.face_id] = _card_dict(face_cards.from_row(row), names)
        elif face_cards.is_face(row):
            older.append(row.face_id)
            by_id[row.face_id] = None
    for face_id, card in face_cards.from_tables(db, older).items():
        by_id[face_id] = _card_dict(card, names)
    face_rows = list(by_id.values())
    return {
        "image_id": image.image_id,
        "source": redact(image.source),  # images saved before credentials were refused
        "source_name": image.source_name,
        "width": image.width,
        "height": image.height,
        "format": image.format,
        "size_bytes": image.size_bytes,
        "status": image.status,
        "face_count": image.face_count,
        "error": image.error,
        "url": f"/blobs/{image.blob_key}" if image.blob_key else None,
        "created_at": image.created_at.isoformat() if image.created_at else None,
        "faces": [f for f in face_rows if f is not None],
    } | ({"rotation": image.rotation} if with_rotation else {})
