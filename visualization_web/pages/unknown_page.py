"""Unknown faces grouped by similarity, with "create persona from group" and "assign group"."""

from __future__ import annotations

from flask import render_template, request

from common.db import get_database
from common.labeling import actions as labeling
from common.repositories import labels, personas
from visualization_web import clustering, queries
from visualization_web.auth import actor, require
from visualization_web.pages.blueprint import bp
from visualization_web.pages.common import done

# Groups on one page, largest first. Each is a set of forms; hundreds of them (singletons of a large corpus)
# made a page of megabytes. Labeling these takes their faces out of the unknown, so a reload shows the next.
MAX_GROUPS_SHOWN = 40


@bp.get("/unknown")
def unknown():
    db = get_database()
    groups = clustering.unknown_groups(db)
    hidden = groups[MAX_GROUPS_SHOWN:]
    return render_template("unknown.html", groups=groups[:MAX_GROUPS_SHOWN], personas=queries.all_personas(db),
                           hidden_groups=len(hidden), hidden_faces=sum(len(g.cards) for g in hidden))  # fmt: skip


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
    """The group to the persona typed or picked by name (the page offers every name)."""
    db = get_database()
    name = request.form.get("persona_name", "").strip()
    persona = personas.find_by_name(db, name) if name else None
    if persona is None:
        return done(f"No persona is named {name!r}: pick one from the list, or create it.", "pages.unknown", "error")
    done_events = labeling.label_many(db, _face_ids(), persona.persona_id, labels.CONFIRM, actor())
    return done(f"{len(done_events)} faces assigned.", "pages.unknown")
