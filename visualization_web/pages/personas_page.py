"""Personas: list, create, rename, merge, delete; one persona's faces for review."""

from __future__ import annotations

import uuid

from flask import render_template, request

from common.db import get_database
from common.labeling import actions as labeling
from common.repositories import personas
from visualization_web import page_cache, queries
from visualization_web.auth import actor, require
from visualization_web.pages.blueprint import bp
from visualization_web.pages.common import done, int_arg, parse_uuid

PER_PAGE = 60


@bp.get("/personas")
def personas_list():
    return page_cache.serve(
        "personas", lambda: render_template("personas.html", summaries=queries.persona_summaries(get_database()))
    )


@bp.post("/personas")
@require("labeler")
def persona_create():
    persona = labeling.create_persona(get_database(), request.form.get("name", ""), actor())
    return done(f"Persona {persona.name} created.", "pages.persona_detail", persona_id=persona.persona_id)


@bp.get("/personas/<persona_id>")
def persona_detail(persona_id: str):
    key = parse_uuid(persona_id)
    order = "confident" if request.args.get("order") == "confident" else "uncertain"
    page = int_arg("page", 0, 0, queries.last_page(PER_PAGE))  # deeper pages would read over MAX_ROWS rows
    return page_cache.serve(f"persona:{key}:{order}:{page}", lambda: _persona_page(key, order, page))


def _persona_page(persona_id: uuid.UUID, order: str, page: int):
    db = get_database()
    try:
        persona = personas.get(db, persona_id)
    except personas.PersonaNotFound:
        return render_template("error.html", status=404, message="No such persona."), 404
    data = queries.persona_faces(db, persona.persona_id, page, PER_PAGE, most_confident_first=order == "confident")
    everyone = queries.all_personas(db)
    others = len(everyone) > 1 or (everyone and everyone[0].persona_id != persona.persona_id)
    return render_template("persona.html", persona=persona, data=data, order=order, page=page,
                           per_page=PER_PAGE, last_page=queries.last_page(PER_PAGE), others=others,
                           everyone=everyone)  # fmt: skip


@bp.post("/personas/<persona_id>/rename")
@require("labeler")
def persona_rename(persona_id: str):
    persona = labeling.rename_persona(get_database(), parse_uuid(persona_id), request.form.get("name", ""), actor())
    return done(f"Renamed to {persona.name}.", "pages.persona_detail", persona_id=persona.persona_id)


@bp.post("/personas/<persona_id>/merge")
@require("labeler")
def persona_merge(persona_id: str):
    target = parse_uuid(request.form.get("target_id"))
    labeling.merge_personas(get_database(), parse_uuid(persona_id), target, actor())
    return done("Merged; undo it from the events page.", "pages.persona_detail", persona_id=target)


@bp.post("/personas/<persona_id>/delete")
@require("admin")
def persona_delete(persona_id: str):
    erase = request.form.get("erase_faces") == "1"
    event = labeling.delete_persona(get_database(), parse_uuid(persona_id), actor(), erase_faces=erase)
    return done(f"Persona {event.payload['name']} deleted.", "pages.personas_list")


@bp.post("/events/<event_id>/undo")
@require("labeler")
def event_undo(event_id: str):
    labeling.undo(get_database(), parse_uuid(event_id), actor())
    return done("Undone.", "pages.events_list")
