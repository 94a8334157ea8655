"""`ingest PATH --labels-from-folders` through a real input worker: sub-folders become personas, the single face
of each of their images is confirmed, ambiguous images are reported, and nothing is labeled twice."""

from __future__ import annotations

import time

import pytest

from common.infra.messages import ExtractImage
from common.ingest.requests import start_ingest
from common.labeling import actions as labeling
from common.operations.cli import main as cli_main
from common.repositories import events, faces, jobs, labels, personas
from common.repositories.ids import bucket_of
from input_worker import extract, folder_labels
from tests.integration.input_worker.helpers import count_rows, wait_for_job
from tests.support.face_images import jpeg_bytes, variant, write_folder
from tests.unit.input_worker.sample_images import astronaut, collage, encode, grace_hopper, noise

pytestmark = pytest.mark.integration

ASTRONAUT, HOPPER = (0, 2, 4), (1, 3)  # variant indices of each person (even: astronaut, odd: Grace Hopper)


@pytest.fixture
def input_worker(start_worker):
    return start_worker("input_worker.app", "ingest,extract", concurrency=2)


def _sorted_photos(root):
    for i in ASTRONAUT:
        write_folder(root / "astronaut", 1, start=i)
    for i in HOPPER:
        write_folder(root / "grace_hopper", 1, start=i)
    (root / "grace_hopper" / "both.jpg").write_bytes(encode(collage(astronaut(), grace_hopper())))
    (root / "grace_hopper" / "noise.png").write_bytes(encode(noise(), "PNG"))
    (root / "grace_hopper" / "notes.jpg").write_bytes(b"not a picture\n" * 20)
    write_folder(root, 1, start=7)  # directly in the root: ingested, not labeled
    return root


def _label_events(db) -> list[events.Event]:
    return [e for e in events.recent(db, limit=500, days=1) if e.kind == "label.confirm"]


def _item(db, job_id: str, key: str) -> dict:
    row = db.one(
        "SELECT outcome, label_outcome, label_note, label_persona FROM ingest_job_items "
        "WHERE job_id = ? AND bucket = ? AND item_key = ?",
        (job_id, bucket_of(key, jobs.BUCKETS), key),
    )
    return row._asdict()


def test_sub_folders_become_personas_and_single_faces_are_confirmed(clean_tables, input_worker, tmp_path, capsys):
    db = clean_tables
    root = _sorted_photos(tmp_path / "sorted")
    existing = labeling.create_persona(db, "grace_hopper", "test")  # reused, not created again
    # stored earlier by an unlabeled job: the labeled import still labels its face
    duplicate = jpeg_bytes(variant(4)[1])
    (tmp_path / "earlier").mkdir()
    (tmp_path / "earlier" / "a.jpg").write_bytes(duplicate)
    wait_for_job(db, start_ingest(db, str(tmp_path / "earlier"), actor="test"))
    assert (root / "astronaut" / "astronaut-0004.jpg").read_bytes() == duplicate

    assert cli_main(["ingest", str(root), "--labels-from-folders", "--timeout", "240"]) == 0
    out = capsys.readouterr().out

    job = next(j for j in jobs.recent(db, limit=10) if j.options.get("labels_from_folders"))
    assert job.options == {"labels_from_folders": True, "operator": True}  # the CLI: an operator's job
    by_name = {p.name: p for p in personas.list_all(db)}
    assert set(by_name) == {"astronaut", "grace_hopper"} and by_name["grace_hopper"].persona_id == existing.persona_id

    summary = folder_labels.summary(db, job.job_id)
    assert summary.labeled == 5 and summary.pending == 0
    assert dict(summary.by_persona) == {"astronaut": 3, "grace_hopper": 2}
    assert summary.not_labeled == [
        ("grace_hopper/both.jpg", "2 faces, not labeled"),
        ("grace_hopper/noise.png", "no face found, not labeled"),
        ("grace_hopper/notes.jpg", "file rejected: " + _reason(db, job.job_id, "grace_hopper/notes.jpg")),
    ]
    assert _item(db, job.job_id, "astronaut/astronaut-0004.jpg")["outcome"] == jobs.DUPLICATE
    assert _item(db, job.job_id, "astronaut/astronaut-0004.jpg")["label_outcome"] == folder_labels.LABELED
    assert _item(db, job.job_id, "grace_hopper-0007.jpg")["label_outcome"] is None

    for name, indices in (("astronaut", ASTRONAUT), ("grace_hopper", HOPPER)):
        confirmed = labels.for_persona(db, by_name[name].persona_id, labels.CONFIRM)
        assert len(confirmed) == len(indices)
        assert {lab.labeled_by for lab in confirmed} == {f"import:{job.created_by.split(':', 1)[1]}"}
    assert count_rows(db, "labels_by_face") == 5
    assert len(_label_events(db)) == 5

    assert "labeled 5, not labeled 3 (2 faces: 1, file rejected: 1, no face found: 1)" in out
    assert "not labeled grace_hopper/both.jpg: 2 faces, not labeled" in out


def test_redelivery_and_re_import_label_nothing_twice(clean_tables, input_worker, tmp_path, settings):
    db = clean_tables
    root = tmp_path / "sorted"
    for i in ASTRONAUT:
        write_folder(root / "astronaut", 1, start=i)
    first = start_ingest(db, str(root), actor="cli:tester", options={"labels_from_folders": True})
    wait_for_job(db, first)
    _wait_labels(db, first)
    assert count_rows(db, "labels_by_face") == 3 and len(_label_events(db)) == 3

    # a redelivered extract task of an item that was labeled already
    item = next(i for i in jobs.items(db, first) if i.outcome == jobs.STORED)
    message = ExtractImage(image_id=item.image_id, job_id=first, item_key=item.item_key, labeled_folder=True)
    extract.extract_image(db, message, settings, send=lambda *a, **k: None)
    # the same folder imported again: every image is a duplicate whose face is labeled already
    second = start_ingest(db, str(root), actor="cli:tester", options={"labels_from_folders": True})
    wait_for_job(db, second)
    _wait_labels(db, second)

    assert count_rows(db, "labels_by_face") == 3 and len(_label_events(db)) == 3
    assert [p.name for p in personas.list_all(db)] == ["astronaut"]
    summary = folder_labels.summary(db, second)
    assert summary.labeled == 3 and not summary.not_labeled
    assert {_item(db, second, i.item_key)["label_note"] for i in jobs.items(db, second)} == {
        "already labeled astronaut"
    }
    face = faces.for_image(db, item.image_id)[0]
    assert [lab.verdict for lab in labels.for_face(db, face.face_id)] == [labels.CONFIRM]


def _wait_labels(db, job_id: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while folder_labels.summary(db, job_id).pending:
        assert time.monotonic() < deadline, "labels not settled"
        time.sleep(0.5)


def _reason(db, job_id: str, key: str) -> str:
    return jobs.get_item(db, job_id, key).reason
