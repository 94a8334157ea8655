"""The labeling domain shared by the web app and the CLI.

Every action records one event (who, what, the state before, so it can be
undone), takes a labeled face out of the review queues and asks for a retrain.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import numpy as np

from common.classifier import erasure, registry
from common.db import Database
from common.infra.redis_client import redis_connection
from common.labeling import privacy_erase
from common.labeling.retrain_trigger import request_retrain
from common.repositories import (
    corpus_counters,
    events,
    face_cards,
    face_cells,
    faces,
    images,
    labels,
    personas,
    predictions,
)
from common.repositories import models as models_repo
from common.storage import get_blob_store

log = logging.getLogger(__name__)

UNDOABLE = frozenset({"label.confirm", "label.reject", "persona.merge", "persona.rename"})


class LabelingError(ValueError):
    """A labeling request that cannot be done (unknown face or persona, nothing to undo)."""


class NotFound(LabelingError):
    pass


class Conflict(LabelingError):
    pass


# --- payload helpers -------------------------------------------------------------------------------


def _label_dict(label: labels.Label) -> dict:
    return {
        "persona_id": str(label.persona_id),
        "verdict": label.verdict,
        "labeled_by": label.labeled_by,
        "labeled_at": label.labeled_at.isoformat() if label.labeled_at else None,
    }


def _label_from(face_id: str, data: dict) -> labels.Label:
    at = datetime.fromisoformat(data["labeled_at"]) if data.get("labeled_at") else None
    return labels.Label(face_id, uuid.UUID(data["persona_id"]), data["verdict"], data.get("labeled_by", ""), at)


def _prediction_dict(p: predictions.Prediction | None, image_id: str) -> dict | None:
    if p is None:
        return None
    return {
        "persona_id": str(p.persona_id) if p.persona_id else None,
        "score": p.score,
        "distance": p.distance,
        "model_version": p.model_version,
        "image_id": image_id,
    }


def _trigger(reason: str) -> None:
    """Ask for a retrain; the event is recorded already, so a lost trigger is found by the beat task."""
    try:
        request_retrain(reason)
    except Exception as exc:  # the broker being down must not lose the label
        log.warning("retrain request failed (%s); the event log still holds the trigger", exc)


def _persona(db: Database, persona_id: uuid.UUID) -> personas.Persona:
    try:
        return personas.get(db, persona_id)
    except personas.PersonaNotFound as exc:
        raise NotFound(str(exc)) from exc


# --- labels -----------------------------------------------------------------------------------------


def _label(db: Database, face_id: str, persona_id: uuid.UUID, verdict: str, actor: str) -> events.Event:
    face = faces.get(db, face_id)
    if face is None:
        raise NotFound(f"no face {face_id}")
    _persona(db, persona_id)
    previous_prediction = predictions.for_face(db, face_id)
    before = labels.put(db, face_id, persona_id, verdict, actor, face.image_id)
    predictions.delete_for_face(db, face_id, face.image_id)
    payload = {
        "face_id": face_id,
        "image_id": face.image_id,
        "persona_id": str(persona_id),
        "previous_labels": [_label_dict(lab) for lab in before],
        "previous_prediction": _prediction_dict(previous_prediction, face.image_id),
    }
    return events.record(db, f"label.{verdict}", actor, face_id, payload)


def confirm(db: Database, face_id: str, persona_id: uuid.UUID, actor: str) -> events.Event:
    event = _label(db, face_id, persona_id, labels.CONFIRM, actor)
    _trigger("label.confirm")
    return event


def reject(db: Database, face_id: str, persona_id: uuid.UUID, actor: str) -> events.Event:
    event = _label(db, face_id, persona_id, labels.REJECT, actor)
    _trigger("label.reject")
    return event


LABEL_MANY_THREADS = 8


def label_many(
    db: Database, face_ids: Iterable[str], persona_id: uuid.UUID, verdict: str, actor: str
) -> list[events.Event]:
    """Label many faces (one undoable event each) and ask for one retrain. The faces are labeled
    ``LABEL_MANY_THREADS`` at a time: each label is about ten round trips to the database, all of one face's
    partitions, so faces do not wait for each other (50 faces: 670-870 ms one after the other, 335-353 ms)."""
    if verdict not in labels.VERDICTS:
        raise LabelingError(f"verdict must be one of {labels.VERDICTS}")
    _persona(db, persona_id)
    unique = list(dict.fromkeys(face_ids))
    with ThreadPoolExecutor(max_workers=max(1, min(LABEL_MANY_THREADS, len(unique)))) as pool:
        done = list(pool.map(lambda face_id: _label(db, face_id, persona_id, verdict, actor), unique))
    if done:
        _trigger(f"label.{verdict}")
    return done


# --- personas ---------------------------------------------------------------------------------------


def create_persona(db: Database, name: str, actor: str) -> personas.Persona:
    persona = personas.create(db, name, actor)
    events.record(db, "persona.create", actor, str(persona.persona_id), {"name": persona.name})
    _trigger("persona.create")
    return persona


def rename_persona(db: Database, persona_id: uuid.UUID, new_name: str, actor: str) -> personas.Persona:
    _persona(db, persona_id)
    persona, old = personas.rename(db, persona_id, new_name)
    events.record(db, "persona.rename", actor, str(persona_id), {"old_name": old, "new_name": persona.name})
    _trigger("persona.rename")
    return persona


def merge_personas(db: Database, source_id: uuid.UUID, target_id: uuid.UUID, actor: str) -> events.Event:
    """Move every label of ``source`` to ``target`` and delete ``source`` (undo: unmerge)."""
    if source_id == target_id:
        raise Conflict("a persona cannot be merged into itself")
    source = _persona(db, source_id)
    target = _persona(db, target_id)
    moved = labels.for_persona(db, source_id)
    image_of = face_cards.image_ids(db, [label.face_id for label in moved])
    previous: dict[str, list[dict]] = {}
    for label in moved:
        current = labels.for_face(db, label.face_id)
        previous[label.face_id] = [_label_dict(lab) for lab in current]
        target_verdict = next((lab.verdict for lab in current if lab.persona_id == target_id), None)
        image_id = image_of.get(label.face_id)
        labels.remove(db, label.face_id, source_id, image_id)
        if label.verdict == labels.CONFIRM:
            corpus_counters.add(db, corpus_counters.CONFIRMED, -1)  # put (below) counts the target's
            labels.put(db, label.face_id, target_id, labels.CONFIRM, label.labeled_by or actor, image_id)
        elif target_verdict is None:
            labels.write(db, labels.Label(label.face_id, target_id, labels.REJECT, label.labeled_by, label.labeled_at),
                         image_id)  # fmt: skip
    personas.delete(db, source_id)
    payload = {
        "source": {"persona_id": str(source_id), "name": source.name, "created_by": source.created_by},
        "target": {"persona_id": str(target_id), "name": target.name},
        "previous_labels": previous,
    }
    event = events.record(db, "persona.merge", actor, str(target_id), payload)
    _trigger("persona.merge")
    return event


def delete_persona(db: Database, persona_id: uuid.UUID, actor: str, erase_faces: bool = False) -> events.Event:
    """Delete a persona and its labels; with ``erase_faces`` also the images it is confirmed in, and every
    copy of their faces (a privacy erase: :func:`_erase_faces`)."""
    persona = _persona(db, persona_id)
    own = labels.for_persona(db, persona_id)
    erased_images: set[str] = set()
    if erase_faces:
        erased_images = _erase_faces(db, persona_id, own, actor)
    else:
        _remove_persona(db, persona_id, own)
        corpus_counters.add(db, corpus_counters.CONFIRMED, -sum(1 for lab in own if lab.verdict == labels.CONFIRM))
    payload = {
        "name": persona.name,
        "labels_removed": len(own),
        "erase_faces": erase_faces,
        "images_erased": len(erased_images),
    }
    event = events.record(db, "persona.delete", actor, str(persona_id), payload)
    _trigger("persona.delete")
    return event


def _remove_persona(db: Database, persona_id: uuid.UUID, own: list[labels.Label]) -> None:
    image_of = face_cards.image_ids(db, [label.face_id for label in own])
    for label in own:
        labels.remove(db, label.face_id, persona_id, image_of.get(label.face_id))
    personas.delete(db, persona_id)


def _erase_faces(db: Database, persona_id: uuid.UUID, own: list[labels.Label], actor: str) -> set[str]:
    """Erase the images the persona is confirmed in, with every face on them, everywhere they are kept
    (:mod:`common.labeling.privacy_erase`), and the persona. Returns the erased image ids.

    Copies go first (models, review queues, events), the faces' own rows after them: should the request fail
    before the end, it can be repeated. The retrain lock is held throughout, so no training reads the faces
    meanwhile; digests of the face ids in Redis make a reclassify batch running meanwhile skip them."""
    image_ids = list(dict.fromkeys(face.image_id for face in (faces.get(db, label.face_id) for label in own
                                                              if label.verdict == labels.CONFIRM) if face))  # fmt: skip
    erased = [face for image_id in image_ids for face in faces.for_image(db, image_id)]
    face_ids = {face.face_id for face in erased}
    client = redis_connection()
    try:
        with privacy_erase.training_paused(client):
            privacy_erase.record_tombstones(client, face_ids)  # a reclassify batch running now skips them
            vectors = [face.embedding for face in erased if face.embedding.shape == (128,)]
            models = erasure.erase_embeddings(db, np.asarray(vectors, np.float32).reshape(-1, 128), actor)
            persona_ids: list[uuid.UUID | None] = [p.persona_id for p in personas.list_all(db)]
            versions = sorted({v.version for v in models_repo.list_versions(db, limit=100_000)}
                              | set(models_repo.queue_generations(db)))  # fmt: skip
            predictions.purge_faces(db, face_ids, [*persona_ids, None], versions)
            events.redact(db, face_ids | set(image_ids))
            # the faces' own rows last: until here a failed request can simply be repeated
            for image_id in image_ids:
                _erase_image(db, image_id)
            _remove_persona(db, persona_id, own)
            dropped = privacy_erase.drop_pending_tasks(client, face_ids)
            privacy_erase.drop_page_cache(client, db.keyspace)
    except privacy_erase.TrainingRunning as exc:  # nothing was changed
        raise Conflict(str(exc)) from exc
    active = models_repo.active_version(db)
    if active is not None and (models.replacement is not None or dropped):
        try:  # the other faces of a removed batch, or every face for the rewritten model
            registry.request_reclassify_all(active)
        except Exception as exc:  # the erase is complete; predictions catch up with the next promotion
            log.warning("reclassify request after a privacy erase failed: %s", exc)
    return set(image_ids)


def _erase_image(db: Database, image_id: str) -> None:
    store = get_blob_store()
    image = images.get(db, image_id)
    face_cells.delete_for_image(db, image_id)  # the index's copies of the embeddings, while the cards say where
    for face in faces.for_image(db, image_id):
        for label in labels.for_face(db, face.face_id):
            labels.remove(db, face.face_id, label.persona_id, image_id)
            corpus_counters.add(db, corpus_counters.CONFIRMED, -(label.verdict == labels.CONFIRM))
        predictions.delete_for_face(db, face.face_id, image_id)
        if face.crop_key:
            store.delete(face.crop_key)
    faces.delete_for_image(db, image_id)
    if image is not None:
        if image.blob_key:
            store.delete(image.blob_key)
        images.delete(db, image)


# --- undo -------------------------------------------------------------------------------------------


def undo(db: Database, event_id: uuid.UUID, actor: str) -> events.Event:
    """Reverse one label, merge or rename event (at most once)."""
    if event_id.version != 1:  # event ids are time-based; anything else names no event
        raise NotFound(f"no event {event_id}")
    event = events.get(db, event_id)
    if event is None:
        raise NotFound(f"no event {event_id}")
    if event.kind not in UNDOABLE:
        raise Conflict(f"{event.kind} events cannot be undone")
    if event.subject == events.ERASED or events.ERASED in event.payload.values():
        raise Conflict("this action concerned erased faces: it cannot be undone")
    if not events.mark_undone(db, event_id, actor):
        raise Conflict("this action was undone already")
    try:
        kind = _UNDO[event.kind](db, event)
    except Exception:
        events.unmark_undone(db, event_id)
        raise
    record = events.record(db, kind, actor, event.subject, {"undoes": str(event_id), "undone_kind": event.kind})
    _trigger(kind)
    return record


def last_undoable(db: Database, actor: str, limit: int = 200) -> events.Event | None:
    """The actor's most recent action that can still be undone."""
    for event in events.recent(db, limit=limit, days=2):
        if event.actor == actor and event.kind in UNDOABLE and not events.is_undone(db, event.event_id):
            return event
    return None


def _undo_label(db: Database, event: events.Event) -> str:
    face_id = event.payload["face_id"]
    previous = [_label_from(face_id, d) for d in event.payload.get("previous_labels", [])]
    labels.restore(db, face_id, previous)
    prediction = event.payload.get("previous_prediction")
    if prediction and labels.confirmed_persona(previous) is None and faces.get(db, face_id) is not None:
        predictions.put(
            db,
            predictions.Prediction(
                face_id,
                uuid.UUID(prediction["persona_id"]) if prediction.get("persona_id") else None,
                float(prediction["score"]),
                prediction.get("distance"),
                int(prediction["model_version"]),
                prediction.get("image_id"),
                queue_version=models_repo.queue_version(db),
            ),
        )
    return "label.undo"


def _undo_merge(db: Database, event: events.Event) -> str:
    source = event.payload["source"]
    source_id = uuid.UUID(source["persona_id"])
    try:
        personas.create(db, source["name"], source.get("created_by", ""), persona_id=source_id)
    except personas.NameTaken as exc:
        raise Conflict(f"cannot unmerge: {exc}") from exc
    for face_id, previous in event.payload.get("previous_labels", {}).items():
        labels.restore(db, face_id, [_label_from(face_id, d) for d in previous])
    return "persona.unmerge"


def _undo_rename(db: Database, event: events.Event) -> str:
    try:
        personas.rename(db, uuid.UUID(event.subject), event.payload["old_name"])
    except personas.PersonaNotFound as exc:
        raise NotFound(str(exc)) from exc
    return "persona.rename"


_UNDO = {
    "label.confirm": _undo_label,
    "label.reject": _undo_label,
    "persona.merge": _undo_merge,
    "persona.rename": _undo_rename,
}
