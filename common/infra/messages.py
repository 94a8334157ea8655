"""Every message between processes: one typed message per Celery task, with its task name and its queue.

Processes never import each other's task code. A sender builds a message and publishes it as its task's
JSON kwargs (``send(IngestJob(job_id=job_id), celery_app.send_task)``); domain functions take a
:data:`Send` callable (a message in, published or collected by a test). The receiving task parses the
kwargs back into the message (``IngestJob.parse(kwargs)``, done for every task by
``common.task_runtime.task_intake.receives``) and calls a plain domain function with it.

Parsing is strict: a field missing, unknown or of the wrong JSON type raises :class:`InvalidMessage`,
naming the task and what is wrong; the task records it as a bad message (``queue.bad_message`` event)
instead of running. There is no support for the untyped payloads sent before these messages existed:
drain the queues before upgrading across that change (docs/deploy-aks.md, "Upgrading").

Task names and queues are the constants of ``common.infra.task_names`` (Celery's routes are built from them).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar, Literal, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from common.infra import task_names

NonEmpty = Annotated[str, Field(min_length=1)]


class InvalidMessage(ValueError):
    """Task kwargs that are not the task's message: which task, and every field that is wrong."""


class Part(BaseModel):
    """A value inside a message: immutable, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Message(Part):
    """The kwargs of one Celery task. Subclasses name their task and the queue it runs on."""

    task_name: ClassVar[str]
    task_queue: ClassVar[str | None]  # None: Celery's default queue (or, for a record, the field ``queue``)
    task_priority: ClassVar[int | None] = None  # None: the default, served first (see LOW_PRIORITY)

    def kwargs(self) -> dict[str, Any]:
        """The JSON kwargs the task receives."""
        return self.model_dump(mode="json")

    def route(self) -> str | None:
        """The queue this message is published to."""
        return self.task_queue

    @classmethod
    def parse(cls, kwargs: Mapping[str, Any]) -> Self:
        """The message in a task's kwargs; raises :class:`InvalidMessage` when they are not one."""
        try:
            text = json.dumps(dict(kwargs), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidMessage(f"{cls.task_name}: kwargs are not JSON ({exc})") from None
        try:
            return cls.model_validate_json(text, strict=True)
        except ValidationError as exc:
            raise InvalidMessage(f"{cls.task_name}: {_problems(exc)}") from None


def _problems(exc: ValidationError) -> str:
    shown = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"]) or "(message)"
        shown.append(f"{where}: {error['msg']}")
    return "; ".join(shown)


# --- input worker: ingest and extraction -------------------------------------------------------------------


class IngestJob(Message):
    """Discover the items of a created ingest job and send them in batches (``input_worker.ingest.run_job``)."""

    task_name: ClassVar[str] = task_names.INGEST_JOB
    task_queue: ClassVar[str | None] = "ingest"

    job_id: NonEmpty


class IngestItem(Part):
    """One item of a job's source, as discovered (``input_worker.sources.SourceItem``)."""

    key: str
    name: str
    locator: str
    size: int | None
    reason: str | None  # known bad before reading (e.g. not a regular file, an empty upload)


class IngestBatch(Message):
    """Read, validate and store a batch of a job's items (``input_worker.ingest.ingest_batch``)."""

    task_name: ClassVar[str] = task_names.INGEST_BATCH
    task_queue: ClassVar[str | None] = "ingest"

    job_id: NonEmpty
    items: tuple[IngestItem, ...]


class ExtractImage(Message):
    """Detect, embed and store the faces of a stored image (``input_worker.extract.extract_image``)."""

    task_name: ClassVar[str] = task_names.EXTRACT_IMAGE
    task_queue: ClassVar[str | None] = "extract"

    image_id: NonEmpty
    # The ingest job item the image came from (both or neither): its extraction is counted on that item.
    job_id: NonEmpty | None = None
    item_key: str | None = None
    labeled_folder: bool = False  # that job labels faces by their folder (folder_labels): the job is read only then
    detector: str | None = None  # None: the configured PP_FACE_DETECTOR
    # Set when ingest has just stored the image: detection runs before the image row is read. None (a
    # labeled-folder duplicate, a redelivered batch) reads the row first and skips an image already processed.
    blob_key: str | None = None

    @model_validator(mode="after")
    def _job_item(self) -> Self:
        if (self.job_id is None) != (self.item_key is None):
            raise ValueError("job_id and item_key go together: give both or neither")
        if self.labeled_folder and self.job_id is None:
            raise ValueError("labeled_folder needs the job item (job_id, item_key)")
        return self


class ReextractImage(Message):
    """Detect the faces of an image again, keeping human work (``input_worker.reextract.reextract_image``)."""

    task_name: ClassVar[str] = task_names.REEXTRACT_IMAGE
    task_queue: ClassVar[str | None] = "extract"

    image_id: NonEmpty
    actor: NonEmpty
    detector: str | None = None  # None: the configured PP_FACE_DETECTOR


# --- trainer worker: training and predictions ---------------------------------------------------------------


class Retrain(Message):
    """Train a new model unless a newer request exists (``trainer_worker.retrain_job.handle_retrain``)."""

    task_name: ClassVar[str] = task_names.RETRAIN
    task_queue: ClassVar[str | None] = "retrain"

    reason: str = Field(max_length=500)
    seq: int  # the request's number (``retrain:request_seq``): a task whose number is not the latest does nothing


class CheckEvents(Message):
    """Request a retrain for training events no retrain request covers (beat, every minute)."""

    task_name: ClassVar[str] = task_names.CHECK_EVENTS
    task_queue: ClassVar[str | None] = "retrain"


class ReclassifyAll(Message):
    """Fan out a full prediction pass for a newly active model version: one :class:`ReclassifyShard` per token
    range of about ``PP_RECLASSIFY_SHARD_FACES`` faces (``trainer_worker.reclassify.reclassify_all``)."""

    task_name: ClassVar[str] = task_names.RECLASSIFY_ALL
    task_queue: ClassVar[str | None] = "reclassify"

    version: int  # the version promoted; the pass is skipped when another one is active by then
    previous: int | None = None  # the version it replaced (recorded with the refresh)
    kind: Literal["full", "audit"] = "full"  # audit: a scheduled check that rewrites only what changed


class RefreshPredictions(Message):
    """After a promotion: re-predict the faces whose decision ``version`` can change compared with ``previous``
    (a scoped refresh), or run a full pass when that cannot be bounded
    (``trainer_worker.scoped_refresh.refresh_predictions``). Sent at the default (highest) priority."""

    task_name: ClassVar[str] = task_names.REFRESH_PREDICTIONS
    task_queue: ClassVar[str | None] = "reclassify"

    version: int
    previous: int | None = None


class AuditPass(Message):
    """Beat: an audit pass of the active version when the last one is ``PP_AUDIT_PASS_HOURS`` old."""

    task_name: ClassVar[str] = task_names.AUDIT_PASS
    task_queue: ClassVar[str | None] = "reclassify"


LOW_PRIORITY = 9  # Redis transport: priority 0 (the default) is served first, 9 last (common.infra.celery_app)
TOKEN_MIN = -(2**63)  # Murmur3 tokens lie in (TOKEN_MIN, TOKEN_MAX]: a range starting at TOKEN_MIN misses none
TOKEN_MAX = 2**63 - 1
Token = Annotated[int, Field(ge=TOKEN_MIN, le=TOKEN_MAX)]


class ReclassifyShard(Message):
    """Predict the faces of one token range of ``faces_by_image`` for one full pass
    (``trainer_worker.reclassify.reclassify_shard``). Only the range travels, never a face or an embedding;
    sent at low priority so new faces' predictions (:class:`ReclassifyBatch`) never wait behind a pass."""

    task_name: ClassVar[str] = task_names.RECLASSIFY_SHARD
    task_queue: ClassVar[str | None] = "reclassify"
    task_priority: ClassVar[int | None] = LOW_PRIORITY

    version: int  # the version the pass is for: the shard stops once another one is active
    pass_id: NonEmpty  # the pass (a newer pass of any version cancels this one's unfinished shards)
    shard: int = Field(ge=0)  # its index in the pass
    start: Token  # the range is token(image_id) > start AND token(image_id) <= end
    end: Token

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.start >= self.end:
            raise ValueError("start must be below end")
        return self


class ReclassifyBatch(Message):
    """Predict new faces with the active model (``trainer_worker.reclassify.reclassify_batch``): the faces of
    ``image_ids`` (when given; else the images of ``face_ids``) are predicted together, so the same-image
    constraint sees every face of an image. Sent by extraction at the default (highest) priority."""

    task_name: ClassVar[str] = task_names.RECLASSIFY_BATCH
    task_queue: ClassVar[str | None] = "reclassify"

    face_ids: tuple[NonEmpty, ...] = ()
    image_ids: tuple[NonEmpty, ...] = ()  # the images of face_ids (saves looking them up)


CorpusCount = Literal["images", "faces", "personas", "confirmed", "predicted", "unknown"]  # corpus_counters.NAMES


class ReconcileCorpusCounts(Message):
    """Count the corpus exactly and correct the counters kept on write (``trainer_worker.corpus_reconcile``;
    beat, every ``PP_CORPUS_RECONCILE_SECONDS``)."""

    task_name: ClassVar[str] = task_names.RECONCILE_CORPUS_COUNTS
    task_queue: ClassVar[str | None] = "reclassify"

    names: tuple[CorpusCount, ...] = ()  # empty: every count


# --- every worker -------------------------------------------------------------------------------------------


class Ping(Message):
    """Answer "pong" (a worker is consuming)."""

    task_name: ClassVar[str] = task_names.PING
    task_queue: ClassVar[str | None] = None


class RecordBadMessage(Message):
    """Record a message dropped from a queue as a ``queue.bad_message`` event (``common.task_runtime.poison_messages``).
    Sent to the queue the bad message came from, so a worker of that queue records it."""

    task_name: ClassVar[str] = task_names.RECORD_BAD_MESSAGE
    task_queue: ClassVar[str | None] = None

    queue: NonEmpty
    reason: str
    preview: str
    size: int
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    dropped_at: str  # ISO 8601
    worker: str = ""

    def route(self) -> str | None:
        return self.queue


MESSAGES: tuple[type[Message], ...] = (
    IngestJob, IngestBatch, ExtractImage, ReextractImage, Retrain, CheckEvents, ReclassifyAll, ReclassifyShard,
    ReclassifyBatch, RefreshPredictions, AuditPass, Ping, RecordBadMessage, ReconcileCorpusCounts,
)  # fmt: skip
BY_TASK: dict[str, type[Message]] = {message.task_name: message for message in MESSAGES}

Send = Callable[[Message], object]  # what domain functions take to send their messages


class SendTask(Protocol):
    """``Celery.send_task`` (or a stand-in with its keywords)."""

    def __call__(self, name: str, *, kwargs: dict[str, Any], **options: Any) -> object: ...


def send(message: Message, send_task: SendTask, *, countdown: float | None = None) -> object:
    """Publish ``message`` as its task (JSON kwargs, its queue, its priority) with ``send_task``
    (``celery_app.send_task``); returns what that returns (Celery: the task's ``AsyncResult``)."""
    options: dict[str, Any] = {}
    if message.route() is not None:
        options["queue"] = message.route()
    if message.task_priority is not None:
        options["priority"] = message.task_priority
    if countdown is not None:
        options["countdown"] = countdown
    return send_task(message.task_name, kwargs=message.kwargs(), **options)
