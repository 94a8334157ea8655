"""Labeled-folder import (`ingest PATH --labels-from-folders`): sub-folder name = persona.

The job option ``labels_from_folders`` makes the folder directly under the
job's root name the persona of every image below it (``obama/2019/a.jpg`` ->
``obama``); images directly in the root stay unlabeled. Discovery creates the
missing personas (``labeling.create_persona``); the extract step confirms the
single face of each image as its folder's persona (``labeling.confirm``: an
event and a coalesced retrain request). Images with zero or several faces are
reported, never guessed. What happened is written on the job item
(``label_persona``, ``label_outcome``, ``label_note``; migration 0004).

Idempotent: a face already confirmed for the persona is not labeled again, a
face confirmed for another persona or rejected for this one is left alone.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from common.db import Database
from common.labeling import actions as labeling
from common.repositories import jobs, labels, personas

log = logging.getLogger(__name__)

OPTION = "labels_from_folders"
LABELED = "labeled"
NOT_LABELED = "not labeled"


def enabled(job: jobs.Job | None) -> bool:
    return bool(job is not None and job.options.get(OPTION))


def persona_folder(item_key: str) -> str | None:
    """The persona name an item's key implies: its first folder under the root, or None (root file)."""
    head, sep, _rest = item_key.partition("/")
    return head if sep and head else None


def actor_for(job: jobs.Job) -> str:
    return f"import:{job.created_by.split(':', 1)[-1] or 'unknown'}"


def ensure_persona(db: Database, name: str, actor: str, attempts: int = 5) -> personas.Persona:
    """The persona called ``name``, created if missing; raises PersonaError for names that are not valid."""
    for attempt in range(attempts):
        found = personas.find_by_name(db, name)
        if found is not None:
            return found
        try:
            return labeling.create_persona(db, name, actor)
        except personas.NameTaken:  # another worker created it a moment ago; read it back
            time.sleep(0.2 * (attempt + 1))
    raise personas.PersonaError(f"persona {name!r} is being created elsewhere; try again")


def ensure_personas(db: Database, job: jobs.Job, item_keys: Iterable[str]) -> dict[str, str]:
    """Create the personas of a job's folders at discovery; returns {folder: error} for names refused."""
    refused: dict[str, str] = {}
    for folder in sorted({f for f in map(persona_folder, item_keys) if f}):
        try:
            ensure_persona(db, folder, actor_for(job))
        except personas.PersonaError as exc:
            refused[folder] = str(exc)
    return refused


def record(db: Database, job_id: str, item_key: str, outcome: str, note: str, persona: str | None = None) -> None:
    jobs.record_label(db, job_id, item_key, persona, outcome, note[:500])


def label_image(db: Database, job: jobs.Job, item_key: str, face_ids: list[str]) -> str:
    """Confirm the single face of one image as its folder's persona; records and returns the outcome."""
    folder = persona_folder(item_key)
    if folder is None:
        return ""
    if len(face_ids) != 1:
        note = "no face found" if not face_ids else f"{len(face_ids)} faces"
        record(db, job.job_id, item_key, NOT_LABELED, f"{note}, not labeled", folder)
        return NOT_LABELED
    try:
        persona = ensure_persona(db, folder, actor_for(job))
    except personas.PersonaError as exc:
        record(db, job.job_id, item_key, NOT_LABELED, f"folder name is not a persona name: {exc}", folder)
        return NOT_LABELED
    face_id = face_ids[0]
    existing = labels.for_face(db, face_id)
    confirmed = labels.confirmed_persona(existing)
    if confirmed == persona.persona_id:
        outcome, note = LABELED, f"already labeled {persona.name}"
    elif confirmed is not None:
        outcome, note = NOT_LABELED, f"face already confirmed as another persona ({_name(db, confirmed)})"
    elif any(lab.persona_id == persona.persona_id and lab.verdict == labels.REJECT for lab in existing):
        outcome, note = NOT_LABELED, f"face was rejected for {persona.name} by a person, not labeled"
    else:
        labeling.confirm(db, face_id, persona.persona_id, actor_for(job))
        outcome, note = LABELED, f"labeled {persona.name}"
    record(db, job.job_id, item_key, outcome, note, persona.name)
    return outcome


def _name(db: Database, persona_id) -> str:
    try:
        return personas.get(db, persona_id).name
    except personas.PersonaNotFound:
        return str(persona_id)


@dataclass
class Summary:
    labeled: int = 0
    pending: int = 0  # stored or duplicate items in a folder whose label step has not run yet
    not_labeled: list[tuple[str, str]] = field(default_factory=list)  # (item key, reason)
    by_persona: Counter = field(default_factory=Counter)

    def reasons(self) -> Counter:
        return Counter(_reason_kind(reason) for _key, reason in self.not_labeled)


def _reason_kind(reason: str) -> str:
    return reason.split(":", 1)[0].replace(", not labeled", "")


def summary(db: Database, job_id: str) -> Summary:
    """Labeled / not labeled counts of a labeled-folder job, from its item rows."""
    out = Summary()
    for r in jobs.label_outcomes(db, job_id):
        if persona_folder(r.item_key) is None or not r.outcome:
            continue
        if r.outcome == jobs.REJECTED:
            out.not_labeled.append((r.item_key, f"file rejected: {r.reason}"))
        elif r.label_outcome == LABELED:
            out.labeled += 1
            out.by_persona[r.label_persona] += 1
        elif r.label_outcome == NOT_LABELED:
            out.not_labeled.append((r.item_key, r.label_note or ""))
        else:
            out.pending += 1
    out.not_labeled.sort()
    return out
