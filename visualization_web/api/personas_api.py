"""Personas: list, create, read, rename, merge, delete; a persona's faces."""

from __future__ import annotations

import dataclasses

from common.db import get_database
from common.labeling import actions as labeling
from common.repositories import personas
from visualization_web import queries
from visualization_web.api.blueprint import bp
from visualization_web.api.contract import operation
from visualization_web.api.fields import as_uuid, event_model
from visualization_web.api.schemas import personas as schema
from visualization_web.api.schemas.shared import Event
from visualization_web.auth import actor, require
from visualization_web.errors import ApiError

PERSONA_ID = {"persona_id": "a persona id (UUID); any other value is 404"}


def persona_fields(p: personas.Persona) -> dict:
    return {"persona_id": p.persona_id, "name": p.name, "created_by": p.created_by,
            "created_at": p.created_at.isoformat() if p.created_at else None}  # fmt: skip


def _get(persona_id: str) -> personas.Persona:
    return personas.get(get_database(), as_uuid(persona_id, "persona"))


@bp.get("/personas")
@operation(schema.PersonaList, operation_id="list_personas", tag="personas")
def personas_index():
    """Every persona with its confirmed faces."""
    rows = queries.persona_summaries(get_database())
    return schema.PersonaList(personas=[schema.PersonaSummary(**persona_fields(r["persona"]), confirmed=r["confirmed"],
                                                              predictions_current=r["predictions_current"])
                                        for r in rows])  # fmt: skip


@bp.post("/personas")
@require("labeler")
@operation(schema.Persona, operation_id="create_persona", tag="personas", status=201, errors=(409,),
           json=schema.PersonaName)  # fmt: skip
def personas_create(json: schema.PersonaName):
    """Create a persona."""
    persona = labeling.create_persona(get_database(), json.name, actor())
    return schema.Persona(**persona_fields(persona)), 201


@bp.get("/personas/<persona_id>")
@operation(schema.Persona, operation_id="get_persona", tag="personas", errors=(404,), paths=PERSONA_ID)
def personas_show(persona_id: str):
    """One persona."""
    return schema.Persona(**persona_fields(_get(persona_id)))


@bp.patch("/personas/<persona_id>")
@require("labeler")
@operation(schema.Persona, operation_id="rename_persona", tag="personas", errors=(404, 409), json=schema.PersonaName,
           paths=PERSONA_ID)  # fmt: skip
def personas_rename(persona_id: str, json: schema.PersonaName):
    """Rename a persona."""
    pid = as_uuid(persona_id, "persona")
    persona = labeling.rename_persona(get_database(), pid, json.name, actor())
    return schema.Persona(**persona_fields(persona))


@bp.post("/personas/<persona_id>/merge")
@require("labeler")
@operation(Event, operation_id="merge_persona", tag="personas", errors=(404, 409), json=schema.MergeRequest,
           paths=PERSONA_ID)  # fmt: skip
def personas_merge(persona_id: str, json: schema.MergeRequest):
    """Merge this persona into another (undoable: undo the event)."""
    source = as_uuid(persona_id, "persona")
    event = labeling.merge_personas(get_database(), source, json.into, actor())
    return event_model(event)


@bp.delete("/personas/<persona_id>")
@require("admin")
@operation(Event, operation_id="delete_persona", tag="personas", errors=(403, 404), query=schema.DeleteQuery,
           paths=PERSONA_ID)  # fmt: skip
def personas_delete(persona_id: str, query: schema.DeleteQuery):
    """Delete a persona (erase_faces=true also erases its confirmed faces and their images)."""
    event = labeling.delete_persona(get_database(), as_uuid(persona_id, "persona"), actor(),
                                    erase_faces=query.erase_faces)  # fmt: skip
    return event_model(event)


@bp.get("/personas/<persona_id>/faces")
@operation(schema.PersonaFaces, operation_id="get_persona_faces", tag="personas", errors=(404, 422),
           query=schema.FacesQuery, paths=PERSONA_ID)  # fmt: skip
def personas_faces(persona_id: str, query: schema.FacesQuery):
    """A page of a persona's confirmed, rejected and predicted faces.

    Only the first 10,000 faces of each list can be paged through: (page + 1) * limit <= 10000, a deeper
    page is 422 (order=confident shows the other end of the predicted list)."""
    persona = _get(persona_id)
    try:
        data = queries.persona_faces(get_database(), persona.persona_id, query.page, query.limit,
                                     most_confident_first=query.order == "confident")  # fmt: skip
    except queries.TooDeep as exc:  # (page + 1) * limit over MAX_ROWS: refused before any read
        raise ApiError(422, str(exc)) from None
    # every field of the page (a new one needs its line in schema.PersonaFaces), the face cards as the API shows them
    page = {field.name: getattr(data, field.name) for field in dataclasses.fields(data)}
    page.update({name: [c.as_dict() for c in page[name]] for name in ("confirmed", "rejected", "predicted")})
    return schema.PersonaFaces.model_validate({"persona": persona_fields(persona), **page})
