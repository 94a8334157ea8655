"""Names of every Celery task and the queue each one runs on (Celery's routes are built from ``ROUTES``).

Services never import each other's task code: they send typed messages (``common.infra.messages``), each of
which names its task with one of these constants.
"""

INGEST_JOB = "input_worker.ingest_job"
INGEST_BATCH = "input_worker.ingest_batch"
EXTRACT_IMAGE = "input_worker.extract_image"
REEXTRACT_IMAGE = "input_worker.reextract_image"
RETRAIN = "trainer_worker.retrain"
CHECK_EVENTS = "trainer_worker.check_events"
RECLASSIFY_BATCH = "trainer_worker.reclassify_batch"
RECLASSIFY_ALL = "trainer_worker.reclassify_all"
RECLASSIFY_SHARD = "trainer_worker.reclassify_shard"
REFRESH_PREDICTIONS = "trainer_worker.refresh_predictions"
AUDIT_PASS = "trainer_worker.audit_pass"
PING = "common.ping"
RECORD_BAD_MESSAGE = "common.record_bad_message"  # sent to the queue the bad message came from
RECONCILE_CORPUS_COUNTS = "trainer_worker.reconcile_corpus_counts"

QUEUES = ("ingest", "extract", "retrain", "reclassify")

ROUTES = {
    INGEST_JOB: "ingest",
    INGEST_BATCH: "ingest",
    EXTRACT_IMAGE: "extract",
    REEXTRACT_IMAGE: "extract",
    RETRAIN: "retrain",
    CHECK_EVENTS: "retrain",
    RECLASSIFY_ALL: "reclassify",
    RECLASSIFY_BATCH: "reclassify",
    RECLASSIFY_SHARD: "reclassify",
    REFRESH_PREDICTIONS: "reclassify",
    AUDIT_PASS: "reclassify",
    RECONCILE_CORPUS_COUNTS: "reclassify",
}
