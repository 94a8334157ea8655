"""Unknown faces grouped by similarity, with "create persona from group" and "assign group"."""

from __future__ import annotations

from flask import render_template, request

from common import labeling
from common.db import get_database
from common.repositories import labels
from visualization_web import clustering, queries
from visualization_web.auth import actor, require
from visualization_web.pages import bp
from visualization_web.pages.common import done, parse_uuid


@bp.get("/unknown")
def unknown():
    db = get_database()
    return render_template("unknown.html", groups=clustering.unknown_groups(db), personas=queries.all_personas(db))


def _face_ids() -> list[str]:
    return [f[:64] for f in request.form.getlist("face_id") if f][:1000]


@bp.post("/unknown/create")
@require("labeler")
def unknown_create():
    db = get_database()
    persona = labeling.create_persona(db, request.form.get("name", ""), actor())
    labeling.label_many(db, _face_ids(), persona.persona_id, labels.CONFIRM, actor())
    return done(f"Persona {persona.name} created from the group.", "pages.unknown")


@bp.post("/unknown/assign")
@require("labeler")
def unknown_assign():
    db = get_database()
    persona_id = parse_uuid(request.form.get("persona_id"))
    done_events = labeling.label_many(db, _face_ids(), persona_id, labels.CONFIRM, actor())
    return done(f"{len(done_events)} faces assigned.", "pages.unknown")
