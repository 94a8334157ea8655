"""The read side of the pages and the API: plain data, gathered from the repositories."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from common.db import Database
from common.repositories import events, faces, images, jobs, labels, personas, predictions
from common.settings import get_settings

log = logging.getLogger(__name__)


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


# --- model registry (owned by the trainer; absent until it is built) ------------------------------


def registry():
    try:
        from common.classifier import registry as module
    except ImportError:
        return None
    return module


def active_version(db: Database) -> int | None:
    module = registry()
    if module is not None:
        try:
            return module.active_version(db)
        except Exception as exc:
            log.warning("active model version unavailable: %s", exc)
            return None
    row = db.one("SELECT version FROM active_model LIMIT 1")
    return row.version if row else None


# --- faces ---------------------------------------------------------------------------------------


def faces_by_id(db: Database, face_ids: list[str]) -> dict[str, faces.Face]:
    """Many faces at once (concurrent single-partition reads)."""
    ids = list(dict.fromkeys(face_ids))
    if not ids:
        return {}
    stmt = db.prepare("SELECT * FROM faces WHERE face_id = ?")
    futures = [db.session.execute_async(stmt.bind((fid,))) for fid in ids]
    out: dict[str, faces.Face] = {}
    for fid, future in zip(ids, futures, strict=True):
        row = future.result().one()
        if row is not None:
            out[fid] = faces._face(row)
    return out


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


def persona_faces(db: Database, persona_id: uuid.UUID, page: int = 0, per_page: int = 60,
                  most_confident_first: bool = False) -> PersonaFaces:  # fmt: skip
    own = labels.for_persona(db, persona_id)
    confirmed = [lab.face_id for lab in own if lab.verdict == labels.CONFIRM]
    rejected = [lab.face_id for lab in own if lab.verdict == labels.REJECT]
    window = slice(page * per_page, (page + 1) * per_page)
    version = active_version(db)
    queue = []
    if version is not None:
        queue = predictions.queue(db, persona_id, version, limit=per_page, offset=page * per_page,
                                  most_confident_first=most_confident_first)  # fmt: skip
    confirmed_cards = cards(db, confirmed[window], verdict="confirm")
    return PersonaFaces(
        confirmed=confirmed_cards,
        rejected=cards(db, rejected[window], verdict="reject"),
        predicted=cards(db, [p.face_id for p in queue], {p.face_id: p.score for p in queue}),
        confirmed_total=len(confirmed),
        rejected_total=len(rejected),
        model_version=version,
        image_ids=list(dict.fromkeys(c.image_id for c in confirmed_cards)),
    )


def persona_summaries(db: Database) -> list[dict]:
    out = []
    for p in personas.list_all(db):
        own = labels.for_persona(db, p.persona_id, labels.CONFIRM)
        cover = cards(db, [own[0].face_id]) if own else []
        out.append({"persona": p, "confirmed": len(own), "cover": cover[0] if cover else None})
    return out


def persona_names(db: Database) -> dict[uuid.UUID, str]:
    return {p.persona_id: p.name for p in personas.list_all(db)}


def face_detail(db: Database, face_id: str, names: dict[uuid.UUID, str] | None = None) -> dict | None:
    face = faces.get(db, face_id)
    if face is None:
        return None
    names = names if names is not None else persona_names(db)
    face_labels = labels.for_face(db, face_id)
    prediction = predictions.for_face(db, face_id)
    return {
        "face_id": face.face_id,
        "image_id": face.image_id,
        "box": {"left": face.box[0], "top": face.box[1], "width": face.box[2], "height": face.box[3]},
        "detector": face.detector,
        "det_score": face.det_score,
        "crop_url": crop_url(face.crop_key),
        "labels": [{"persona_id": str(lab.persona_id), "persona": names.get(lab.persona_id), "verdict": lab.verdict,
                    "labeled_by": lab.labeled_by} for lab in face_labels],
        "prediction": None if prediction is None else {
            "persona_id": str(prediction.persona_id) if prediction.persona_id else None,
            "persona": names.get(prediction.persona_id) if prediction.persona_id else None,
            "score": prediction.score,
            "distance": prediction.distance,
            "model_version": prediction.model_version,
        },
    }


def image_detail(db: Database, image_id: str) -> dict | None:
    image = images.get(db, image_id)
    if image is None:
        return None
    names = persona_names(db)
    face_rows = [face_detail(db, fid, names) for fid in faces.ids_for_image(db, image_id)]
    return {
        "image_id": image.image_id,
        "source": image.source,
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
    }


# --- dashboard -----------------------------------------------------------------------------------

_cache: dict[str, tuple[float, Any]] = {}
_cache_lock = threading.Lock()


def cached(key: str, seconds: float, compute):
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit and now - hit[0] < seconds:
            return hit[1]
    value = compute()
    with _cache_lock:
        _cache[key] = (now, value)
    return value


def counts(db: Database) -> dict[str, int]:
    def compute() -> dict[str, int]:
        people = personas.list_all(db)
        confirmed = sum(len(labels.for_persona(db, p.persona_id, labels.CONFIRM)) for p in people)
        predicted = unknown = 0
        for row in db.execute("SELECT persona_id FROM predictions_by_face", fetch_size=5000):
            if row.persona_id is None:
                unknown += 1
            else:
                predicted += 1
        rejected_files = 0
        for job in jobs.recent(db, limit=10):
            progress = jobs.progress(db, job.job_id)
            rejected_files += progress.counts["rejected"] if progress else 0
        return {
            "images": db.one("SELECT COUNT(*) AS n FROM images").n,
            "faces": db.one("SELECT COUNT(*) AS n FROM faces").n,
            "personas": len(people),
            "confirmed": confirmed,
            "predicted": predicted,
            "unknown": unknown,
            "rejected_files": rejected_files,
        }

    return cached(f"counts:{db.keyspace}", 15.0, compute)


def queue_depths() -> dict[str, int | None]:
    import redis

    from common.task_names import QUEUES

    client = redis.Redis.from_url(get_settings().redis_url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return {name: int(client.llen(name)) for name in QUEUES}
    except redis.RedisError:
        return dict.fromkeys(QUEUES)
    finally:
        client.close()


def workers_online() -> list[str]:
    def compute() -> list[str]:
        try:
            from common.health import check_workers

            return check_workers(timeout=0.5).split(", ")
        except Exception:
            return []

    return cached("workers", 10.0, compute)


def recent_events(db: Database, limit: int = 50, kind: str = "", actor: str = "",
                  before: uuid.UUID | None = None) -> list[events.Event]:  # fmt: skip
    if not actor:
        return events.recent(db, limit=limit, kind_prefix=kind, before=before)
    found: list[events.Event] = []
    cursor = before
    for _ in range(10):
        batch = events.recent(db, limit=200, kind_prefix=kind, before=cursor)
        found.extend(e for e in batch if e.actor == actor)
        if len(found) >= limit or len(batch) < 200:
            break
        cursor = batch[-1].event_id
    return found[:limit]
