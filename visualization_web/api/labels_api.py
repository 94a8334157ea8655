"""Labels: confirm or reject one face (or many) for a persona; undo; read a face."""

from __future__ import annotations

from common.db import get_database
from common.labeling import actions as labeling
from common.repositories import labels
from visualization_web import queries
from visualization_web.api.blueprint import bp
from visualization_web.api.contract import operation
from visualization_web.api.fields import event_model
from visualization_web.api.schemas.faces import MAX_BULK, FaceDetail, LabelRequest, LabelResult, UndoRequest
from visualization_web.api.schemas.shared import Event, EventList
from visualization_web.auth import actor, require
from visualization_web.errors import ApiError


@bp.post("/labels")
@require("labeler")
@operation(LabelResult, operation_id="label_faces", tag="labels", status=201, errors=(404, 409), json=LabelRequest)
def labels_create(json: LabelRequest):
    """Confirm or reject one face (face_id) or many (face_ids, at most 1000) for a persona.

    One face answers with its event, many with their events."""
    db = get_database()
    if json.face_ids is not None:
        if len(json.face_ids) > MAX_BULK:
            raise ApiError(413, f"at most {MAX_BULK} faces per request")
        done = labeling.label_many(db, json.face_ids, json.persona_id, json.verdict.value, actor())
        return LabelResult(EventList(events=[event_model(e) for e in done])), 201
    action = labeling.confirm if json.verdict == labels.CONFIRM else labeling.reject
    return LabelResult(event_model(action(db, json.face_id, json.persona_id, actor()))), 201


@bp.post("/undo")
@require("labeler")
@operation(Event, operation_id="undo", tag="labels", errors=(404, 409), json=UndoRequest)
def undo(json: UndoRequest):
    """Undo an action (event_id), or the caller's last one."""
    db = get_database()
    event_id = json.event_id
    if event_id is None:
        last = labeling.last_undoable(db, actor())
        if last is None:
            raise ApiError(409, "nothing to undo")
        event_id = last.event_id
    return event_model(labeling.undo(db, event_id, actor()))


@bp.get("/faces/<face_id>")
@operation(FaceDetail, operation_id="get_face", tag="labels", errors=(404,))
def faces_show(face_id: str):
    """A face with its labels and current prediction."""
    detail = queries.face_detail(get_database(), face_id[:64])
    if detail is None:
        raise ApiError(404, f"no face {face_id[:64]}")
    return FaceDetail.model_validate(detail)
