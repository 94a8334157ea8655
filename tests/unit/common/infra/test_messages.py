"""The typed messages between processes: one per task, JSON kwargs both ways, strict parsing, bad ones recorded."""

from __future__ import annotations

import json

import pytest

import input_worker.app  # noqa: F401  (registers the input worker's tasks)
import trainer_worker.app  # noqa: F401  (registers the trainer worker's tasks)
from common.infra import messages, task_names
from common.infra.celery_app import celery_app
from common.infra.messages import (
    BY_TASK,
    CheckEvents,
    ExtractImage,
    IngestBatch,
    IngestItem,
    IngestJob,
    InvalidMessage,
    Ping,
    ReclassifyAll,
    ReclassifyBatch,
    ReclassifyShard,
    RecordBadMessage,
    ReextractImage,
    Retrain,
)
from input_worker import tasks as input_tasks
from trainer_worker import tasks as trainer_tasks

SAMPLES = [
    IngestJob(job_id="job-1"),
    IngestBatch(job_id="job-1", items=(IngestItem(key="a/b.jpg", name="b.jpg", locator="L2Iu", size=12, reason=None),
                                       IngestItem(key="c", name="c", locator="", size=None, reason="empty file"))),
    ExtractImage(image_id="f" * 64),
    ExtractImage(image_id="f" * 64, job_id="job-1", item_key="a/b.jpg", labeled_folder=True, detector="hog",
                 blob_key="images/ff/" + "f" * 64 + ".jpg"),
    ReextractImage(image_id="f" * 64, actor="cli:alice", detector="dlib-cnn"),
    Retrain(reason="label confirmed", seq=7),
    CheckEvents(),
    ReclassifyAll(version=3),
    ReclassifyAll(version=4, previous=3, kind="audit"),
    messages.RefreshPredictions(version=4, previous=3),
    messages.RefreshPredictions(version=1),
    messages.AuditPass(),
    ReclassifyBatch(face_ids=("a" * 64, "b" * 64)),
    ReclassifyBatch(face_ids=("a" * 64,), image_ids=("f" * 64,)),
    ReclassifyShard(version=3, pass_id="p" * 36, shard=0, start=messages.TOKEN_MIN, end=messages.TOKEN_MAX),
    ReclassifyShard(version=3, pass_id="p", shard=7, start=-5, end=12),
    Ping(),
    messages.ReconcileCorpusCounts(),
    messages.ReconcileCorpusCounts(names=("predicted", "unknown")),
    RecordBadMessage(queue="extract", reason="not JSON", preview="{x", size=2, sha256="ab" * 32,
                     dropped_at="2026-01-01T00:00:00+00:00", worker="host:1"),
]  # fmt: skip


def test_every_task_the_workers_register_has_a_message_type_with_its_queue():
    registered = {name for name in celery_app.tasks if not name.startswith("celery.")}
    assert registered == set(BY_TASK)
    for name, message_type in BY_TASK.items():
        assert message_type.task_queue == task_names.ROUTES.get(name), name
    assert {type(sample) for sample in SAMPLES} == set(messages.MESSAGES)


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_a_message_round_trips_through_json_kwargs(message):
    kwargs = json.loads(json.dumps(message.kwargs()))
    assert type(message).parse(kwargs) == message


def test_send_publishes_the_json_kwargs_to_the_messages_queue():
    calls = []

    def send_task(name, **options):
        calls.append((name, options))

    messages.send(ReclassifyAll(version=3), send_task)
    messages.send(Retrain(reason="manual", seq=2), send_task, countdown=30)
    messages.send(SAMPLES[-1], send_task)
    messages.send(Ping(), send_task)
    messages.send(ReclassifyShard(version=3, pass_id="p", shard=1, start=-5, end=12), send_task)
    messages.send(ReclassifyBatch(face_ids=("f",)), send_task)
    assert calls[4:] == [  # a shard at the lowest priority, new faces at the default (served first)
        (
            task_names.RECLASSIFY_SHARD,
            {
                "kwargs": {"version": 3, "pass_id": "p", "shard": 1, "start": -5, "end": 12},
                "queue": "reclassify",
                "priority": 9,
            },
        ),
        (task_names.RECLASSIFY_BATCH, {"kwargs": {"face_ids": ["f"], "image_ids": []}, "queue": "reclassify"}),
    ]
    assert calls[:4] == [
        (
            task_names.RECLASSIFY_ALL,
            {"kwargs": {"version": 3, "previous": None, "kind": "full"}, "queue": "reclassify"},
        ),
        (task_names.RETRAIN, {"kwargs": {"reason": "manual", "seq": 2}, "queue": "retrain", "countdown": 30}),
        (task_names.RECORD_BAD_MESSAGE, {"kwargs": SAMPLES[-1].kwargs(), "queue": "extract"}),
        (task_names.PING, {"kwargs": {}}),
    ]


@pytest.mark.parametrize(
    ("message_type", "kwargs", "problem"),
    [
        (IngestJob, {}, "job_id: Field required"),
        (IngestJob, {"job_id": "j", "items": []}, "items: Extra inputs are not permitted"),
        (IngestJob, {"job_id": 42}, "job_id: Input should be a valid string"),
        (ExtractImage, {"image_id": "x", "labeled_folder": None}, "labeled_folder: Input should be a valid boolean"),
        (ExtractImage, {"image_id": "x", "labeled_folder": "yes"}, "labeled_folder: Input should be a valid boolean"),
        (ExtractImage, {"image_id": "x", "job_id": "j"}, "job_id and item_key go together"),
        (ExtractImage, {"image_id": "x", "labeled_folder": True}, "labeled_folder needs the job item"),
        (Retrain, {"reason": "r"}, "seq: Field required"),
        (Retrain, {"reason": "r", "seq": "7"}, "seq: Input should be a valid integer"),
        (ReclassifyAll, {"version": None}, "version: Input should be a valid integer"),
        (ReclassifyBatch, {"face_ids": ["a", 5]}, "face_ids.1: Input should be a valid string"),
        (ReclassifyBatch, {"face_ids": [""]}, "face_ids.0: String should have at least 1 character"),
        (ReclassifyBatch, {"face_ids": ["a"], "full_pass": {}}, "full_pass: Extra inputs are not permitted"),
        (ReclassifyShard, {"version": 1, "pass_id": "p", "shard": 0, "start": 5, "end": 5},
         "start must be below end"),
        (ReclassifyShard, {"version": 1, "pass_id": "p", "shard": 0, "start": -(2**63) - 1, "end": 5},
         "start: Input should be greater than or equal to"),
        (ReclassifyShard, {"version": 1, "pass_id": "p", "shard": 0, "start": 0, "end": 2**63},
         "end: Input should be less than or equal to"),
        (ReclassifyShard, {"version": 1, "pass_id": "p", "shard": 0, "start": 0, "end": 9, "faces": []},
         "faces: Extra inputs are not permitted"),
        (CheckEvents, {"anything": 1}, "anything: Extra inputs are not permitted"),
        (RecordBadMessage, {"queue": "extract"}, "reason: Field required"),
    ],
)  # fmt: skip
def test_a_message_with_a_missing_extra_or_wrongly_typed_field_is_refused_with_the_reason(message_type, kwargs,
                                                                                          problem):  # fmt: skip
    with pytest.raises(InvalidMessage) as refused:
        message_type.parse(kwargs)
    assert str(refused.value).startswith(f"{message_type.task_name}: ")
    assert problem in str(refused.value)


def test_kwargs_that_are_not_json_are_refused():
    with pytest.raises(InvalidMessage, match="kwargs are not JSON"):
        IngestJob.parse({"job_id": object()})


@pytest.fixture
def published(monkeypatch) -> list[tuple[str, dict]]:
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, **options: sent.append((name, options)))
    return sent


@pytest.mark.parametrize(
    ("task", "kwargs", "queue"),
    [
        (input_tasks.extract_image, {"image_id": 5}, "extract"),
        (input_tasks.ingest_batch, {"job_id": "j"}, "ingest"),
        (trainer_tasks.reclassify_batch_task, {"face_ids": "abc"}, "reclassify"),
        (trainer_tasks.retrain, {"reason": "r", "seq": None}, "retrain"),
    ],
)
def test_a_task_given_an_invalid_message_records_it_as_a_bad_message_and_does_not_run(published, task, kwargs, queue):
    result = task.apply(kwargs=kwargs, routing_key=queue)
    assert result.state == "SUCCESS" and result.result is None  # acknowledged, nothing ran, the worker goes on
    [(name, options)] = published
    record = RecordBadMessage.parse(options["kwargs"])
    assert name == task_names.RECORD_BAD_MESSAGE and options["queue"] == queue == record.queue
    assert record.reason.startswith(f"invalid message: {task.name}: ")
    assert task.name in record.preview and record.size > 0
