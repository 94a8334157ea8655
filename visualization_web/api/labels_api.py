"""Labels: confirm or reject one face (or many) for a persona; undo; read a face."""

from __future__ import annotations

from flask import jsonify

from common.db import get_database
from common.labeling import actions as labeling
from common.repositories import labels
from visualization_web import queries
from visualization_web.api.blueprint import bp
from visualization_web.api.fields import as_uuid, body, event_json, field, is_text
from visualization_web.auth import actor, require
from visualization_web.errors import ApiError

MAX_BULK = 1000


def _verdict(data: dict) -> str:
    verdict = field(data, "verdict")
    if verdict not in labels.VERDICTS:
        raise ApiError(422, "verdict must be 'confirm' or 'reject'")
    return verdict


@bp.post("/labels")
@require("labeler")
def labels_create():
    data = body()
    verdict = _verdict(data)
    face_ids = data.get("face_ids")
    persona_id = as_uuid(field(data, "persona_id"), "persona", status=422)
    db = get_database()
    if face_ids is not None:
        if (
            not isinstance(face_ids, list)
            or not all(isinstance(f, str) and is_text(f) for f in face_ids)
            or not face_ids
        ):
            raise ApiError(422, "'face_ids' must be a non-empty list of strings")
        if len(face_ids) > MAX_BULK:
            raise ApiError(413, f"at most {MAX_BULK} faces per request")
        done = labeling.label_many(db, face_ids, persona_id, verdict, actor())
        return jsonify({"events": [event_json(e) for e in done]}), 201
    face_id = field(data, "face_id")
    action = labeling.confirm if verdict == labels.CONFIRM else labeling.reject
    return jsonify(event_json(action(db, face_id, persona_id, actor()))), 201


@bp.post("/undo")
@require("labeler")
def undo():
    data = body()
    db = get_database()
    if data.get("event_id") is None:
        last = labeling.last_undoable(db, actor())
        if last is None:
            raise ApiError(409, "nothing to undo")
        event_id = last.event_id
    else:
        event_id = as_uuid(data["event_id"], "event")
    return jsonify(event_json(labeling.undo(db, event_id, actor())))


@bp.get("/faces/<face_id>")
def faces_show(face_id: str):
    detail = queries.face_detail(get_database(), face_id[:64])
    if detail is None:
        raise ApiError(404, f"no face {face_id[:64]}")
    return jsonify(detail)
