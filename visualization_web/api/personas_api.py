"""Personas: list, create, read, rename, merge, delete; a persona's faces."""

from __future__ import annotations

from flask import jsonify, request

from common.db import get_database
from common.labeling import actions as labeling
from common.repositories import personas
from visualization_web import queries
from visualization_web.api.blueprint import bp
from visualization_web.api.fields import as_uuid, body, event_json, field, int_query
from visualization_web.auth import actor, require
from visualization_web.errors import ApiError


def persona_json(p: personas.Persona, confirmed: int | None = None) -> dict:
    data = {"persona_id": str(p.persona_id), "name": p.name, "created_by": p.created_by,
            "created_at": p.created_at.isoformat() if p.created_at else None}  # fmt: skip
    if confirmed is not None:
        data["confirmed"] = confirmed
    return data


def _get(persona_id: str) -> personas.Persona:
    return personas.get(get_database(), as_uuid(persona_id, "persona"))


@bp.get("/personas")
def personas_index():
    rows = queries.persona_summaries(get_database())
    return jsonify({"personas": [persona_json(r["persona"], r["confirmed"]) for r in rows]})


@bp.post("/personas")
@require("labeler")
def personas_create():
    persona = labeling.create_persona(get_database(), field(body(), "name"), actor())
    return jsonify(persona_json(persona)), 201


@bp.get("/personas/<persona_id>")
def personas_show(persona_id: str):
    return jsonify(persona_json(_get(persona_id)))


@bp.patch("/personas/<persona_id>")
@require("labeler")
def personas_rename(persona_id: str):
    pid = as_uuid(persona_id, "persona")
    persona = labeling.rename_persona(get_database(), pid, field(body(), "name"), actor())
    return jsonify(persona_json(persona))


@bp.post("/personas/<persona_id>/merge")
@require("labeler")
def personas_merge(persona_id: str):
    source = as_uuid(persona_id, "persona")
    target = as_uuid(field(body(), "into"), "persona", status=422)
    event = labeling.merge_personas(get_database(), source, target, actor())
    return jsonify(event_json(event))


@bp.delete("/personas/<persona_id>")
@require("admin")
def personas_delete(persona_id: str):
    erase = request.args.get("erase_faces", "false").lower()
    if erase not in ("true", "false", "1", "0"):
        raise ApiError(400, "erase_faces must be true or false")
    event = labeling.delete_persona(get_database(), as_uuid(persona_id, "persona"), actor(),
                                    erase_faces=erase in ("true", "1"))  # fmt: skip
    return jsonify(event_json(event))


@bp.get("/personas/<persona_id>/faces")
def personas_faces(persona_id: str):
    persona = _get(persona_id)
    order = request.args.get("order", "uncertain")
    if order not in ("uncertain", "confident"):
        raise ApiError(400, "order must be 'uncertain' or 'confident'")
    per_page = int_query("limit", 60, 1, 500)
    page = int_query("page", 0, 0, queries.MAX_ROWS)
    try:
        data = queries.persona_faces(get_database(), persona.persona_id, page, per_page,
                                     most_confident_first=order == "confident")  # fmt: skip
    except queries.TooDeep as exc:  # (page + 1) * limit over MAX_ROWS: refused before any read
        raise ApiError(422, str(exc)) from None
    return jsonify({
        "persona": persona_json(persona),
        "model_version": data.model_version,
        "confirmed_total": data.confirmed_total,
        "rejected_total": data.rejected_total,
        "confirmed": [c.as_dict() for c in data.confirmed],
        "rejected": [c.as_dict() for c in data.rejected],
        "predicted": [c.as_dict() for c in data.predicted],
        "image_ids": data.image_ids,
    })  # fmt: skip
