"""Every Prometheus metric the services record, and the small ``record_*`` functions that record them.

One catalogue, so names, units and labels follow one set of rules (docs/observability.md lists them):
prefix ``pp_``, counters end in ``_total``, durations are ``_seconds``, and every label takes a bounded set of
values (a route template, a task name, a reason category; never a user name, an id or free text).

Counters and histograms are per process; under gunicorn and Celery's prefork pool they live in files that a
scrape sums (``common.infra.metrics_process``, which must run before this module is imported in a service).
Gauges that hold the state of the system (corpus counts, queue depths, the active version) are not kept here:
the web app reads them at scrape time from Cassandra and Redis (``visualization_web.metrics``).
"""

from __future__ import annotations

import re

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client import multiprocess as prometheus_multiprocess

from common.infra import metrics_process, task_names

disable_created_metrics()  # no ``_created`` series: they double every counter and a multiprocess scrape drops them

FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SLOW = (0.05, 0.25, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
LATENCY = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)

# --- web --------------------------------------------------------------------------------------------------
HTTP_REQUESTS = Counter("pp_http_requests", "HTTP requests by route template, method and status.",
                        ["route", "method", "status"])  # fmt: skip
HTTP_DURATION = Histogram("pp_http_request_duration_seconds", "HTTP request latency by route template.",
                          ["route", "method"], buckets=FAST)  # fmt: skip

# --- every Celery task ------------------------------------------------------------------------------------
TASKS = Counter("pp_tasks", "Tasks finished, by task name and outcome (success, failure, retry).",
                ["task", "outcome"])  # fmt: skip
TASK_DURATION = Histogram("pp_task_duration_seconds", "Task run time by task name.", ["task"], buckets=SLOW)
TASK_RETRIES = Counter("pp_task_retries", "Task retries scheduled after an outage, by task name.", ["task"])
TASK_REDELIVERIES = Counter("pp_task_redeliveries",
                            "Tasks delivered again (their worker died or lost the broker), by task name.",
                            ["task"])  # fmt: skip
POISON_MESSAGES = Counter("pp_poison_messages", "Queue items dropped because they are not tasks, by queue and reason.",
                          ["queue", "reason"])  # fmt: skip

# --- ingest and extraction --------------------------------------------------------------------------------
INGEST_ITEMS = Counter("pp_ingest_items", "Ingested files by outcome (stored, duplicate, rejected).", ["outcome"])
INGEST_REJECTED = Counter("pp_ingest_rejected", "Rejected files by reason category.", ["reason"])
EXTRACTED_IMAGES = Counter("pp_extract_images", "Images through face extraction by outcome (processed, failed).",
                           ["outcome"])  # fmt: skip
FACES_DETECTED = Counter("pp_faces_detected", "Faces found and stored, by detector.", ["detector"])

# --- training ---------------------------------------------------------------------------------------------
TRAININGS = Counter("pp_trainings", "Training runs by gate decision (active, rejected, skipped).", ["decision"])
TRAINING_DURATION = Histogram("pp_training_duration_seconds", "Training run time (read, fit, evaluate, store, gate).",
                              buckets=SLOW)  # fmt: skip
TRAINING_LABELS = Gauge("pp_training_labels", "Confirmed faces the last trained version learned from.",
                        multiprocess_mode="mostrecent")  # fmt: skip
TRAINING_PERSONAS = Gauge("pp_training_personas", "Personas the last trained version knows.",
                          multiprocess_mode="mostrecent")  # fmt: skip
TRAINING_VERSION = Gauge("pp_training_last_version", "The last trained model version.", multiprocess_mode="mostrecent")
TRAINING_MACRO_F1 = Gauge("pp_training_macro_f1", "Macro-F1 of the last trained version on its held-out sample.",
                          multiprocess_mode="mostrecent")  # fmt: skip
TRAINING_ACCURACY = Gauge("pp_training_accuracy", "Accuracy of the last trained version on its held-out sample.",
                          multiprocess_mode="mostrecent")  # fmt: skip
LABEL_TO_REFRESH = Histogram("pp_label_to_refresh_seconds",
                             "From the last label a model learned to its stage: model (promoted), predictions "
                             "(its reclassification finished).", ["stage"], buckets=LATENCY)  # fmt: skip

# --- reclassification -------------------------------------------------------------------------------------
RECLASSIFIED_FACES = Counter("pp_reclassify_faces", "Faces predicted again, by kind (batch: new faces; pass: a full "
                             "pass of a new version).", ["kind"])  # fmt: skip
RECLASSIFY_CHANGED = Counter("pp_reclassify_decisions_changed",
                             "Predictions a full pass changed (persona or unknown differs from before).")  # fmt: skip
# --- Azure AI Face and rate limits ------------------------------------------------------------------------
AZURE_FACE_REQUESTS = Counter("pp_azure_face_requests", "Azure Face detect calls by HTTP status (0: no answer).",
                              ["status"])  # fmt: skip
AZURE_FACE_THROTTLED = Counter("pp_azure_face_throttled", "Azure Face calls answered 429 (too many requests).")
RATE_LIMIT_WAITS = Counter("pp_rate_limiter_waits", "Times a caller waited for a rate-limiter slot.", ["limiter"])
RATE_LIMIT_WAIT_SECONDS = Counter("pp_rate_limiter_wait_seconds", "Seconds callers waited for a rate-limiter slot.",
                                  ["limiter"])  # fmt: skip

metrics_process.catalogue_loaded()

# --- bounded label values ---------------------------------------------------------------------------------
QUEUES = frozenset(task_names.QUEUES)
REJECT_REASONS = (
    "empty file", "file too large", "corrupt or truncated image", "not an image", "decompression bomb refused",
    "image too large to decode", "image has no pixels", "too many frames", "cannot read", "stopped the worker",
    "internal error",
)  # fmt: skip
POISON_REASONS = (
    "not UTF-8 text", "not JSON", "not a message envelope", "envelope has no", "no task headers", "content type",
    "body is not UTF-8", "body is not JSON", "body is not [args", "unknown task", "rejected by Celery",
    "invalid message",
)  # fmt: skip
_NON_WORD = re.compile(r"[^a-z0-9]+")


def category(text: str, known: tuple[str, ...]) -> str:
    """The label value for a free-text reason: the known prefix it starts with (snake_case), else ``other``."""
    lowered = text.strip().lower()
    for prefix in known:
        if lowered.startswith(prefix.lower()):
            return _NON_WORD.sub("_", prefix.lower()).strip("_")
    return "other"


def queue_label(queue: str) -> str:
    return queue if queue in QUEUES else "other"


# --- recording --------------------------------------------------------------------------------------------
def record_request(route: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(route, method, str(status)).inc()
    HTTP_DURATION.labels(route, method).observe(seconds)


def record_task(task: str, outcome: str, seconds: float | None) -> None:
    TASKS.labels(task, outcome).inc()
    if seconds is not None:
        TASK_DURATION.labels(task).observe(seconds)


def record_retry(task: str) -> None:
    TASK_RETRIES.labels(task).inc()


def record_redelivery(task: str) -> None:
    TASK_REDELIVERIES.labels(task).inc()


def record_poison_message(queue: str, reason: str) -> None:
    POISON_MESSAGES.labels(queue_label(queue), category(reason, POISON_REASONS)).inc()


def record_ingest_item(outcome: str, reason: str | None = None) -> None:
    """``outcome``: stored, duplicate or rejected (then ``reason``: the text recorded on the job item)."""
    INGEST_ITEMS.labels(outcome).inc()
    if outcome == "rejected":
        INGEST_REJECTED.labels(category(reason or "", REJECT_REASONS)).inc()


def record_extraction(outcome: str, detector: str = "", faces: int = 0) -> None:
    EXTRACTED_IMAGES.labels(outcome).inc()
    if faces:
        FACES_DETECTED.labels(detector).inc(faces)


def record_training(decision: str, seconds: float, version: int | None = None, labels: int | None = None,
                    personas: int | None = None, macro_f1: float | None = None,
                    accuracy: float | None = None) -> None:  # fmt: skip
    """One training run; the gauges only when it trained a version."""
    TRAININGS.labels(decision).inc()
    TRAINING_DURATION.observe(seconds)
    for gauge, value in ((TRAINING_VERSION, version), (TRAINING_LABELS, labels), (TRAINING_PERSONAS, personas),
                         (TRAINING_MACRO_F1, macro_f1), (TRAINING_ACCURACY, accuracy)):  # fmt: skip
        if value is not None:
            gauge.set(value)


def record_label_to_refresh(stage: str, seconds: float) -> None:
    """Seconds from the last label a version learned (its ``trigger_event``) to ``stage``: ``model`` (the version
    was promoted) or ``predictions`` (its reclassification finished: every face shows its decision)."""
    LABEL_TO_REFRESH.labels(stage).observe(max(0.0, seconds))


def record_reclassified(kind: str, faces: int) -> None:
    """``kind``: ``batch`` (new faces from the input worker), ``scoped`` (a refresh after a promotion) or ``pass``
    (a shard of a full or audit pass)."""
    if faces:
        RECLASSIFIED_FACES.labels(kind).inc(faces)


def record_decisions_changed(faces: int) -> None:
    """Decisions a full or audit pass changed (persona or unknown differs from the face's previous one); after an
    audit pass, what scoped refreshes missed."""
    if faces:
        RECLASSIFY_CHANGED.inc(faces)


def record_azure_face_call(status: int) -> None:
    AZURE_FACE_REQUESTS.labels(str(status)).inc()
    if status == 429:
        AZURE_FACE_THROTTLED.inc()


def record_rate_limit_wait(limiter: str, seconds: float) -> None:
    RATE_LIMIT_WAITS.labels(limiter).inc()
    RATE_LIMIT_WAIT_SECONDS.labels(limiter).inc(seconds)


def scrape_registry() -> CollectorRegistry:
    """What a scrape reads: the sum over every process of this service (multiprocess mode), else this process."""
    if not metrics_process.multiprocess():
        return REGISTRY
    registry = CollectorRegistry()
    prometheus_multiprocess.MultiProcessCollector(registry)
    return registry
