from common.infra import task_names
from common.infra.celery_app import celery_config
from common.infra.settings import Settings


def test_at_least_once_delivery_and_json_only():
    conf = celery_config(Settings(celery_visibility_timeout=7200))
    assert conf["task_acks_late"] and conf["task_reject_on_worker_lost"]
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["accept_content"] == ["json"] and conf["task_serializer"] == "json"
    assert conf["broker_transport_options"]["visibility_timeout"] == 7200
    assert conf["task_time_limit"] < conf["broker_transport_options"]["visibility_timeout"]
    assert conf["worker_cancel_long_running_tasks_on_connection_loss"]
    assert conf["broker_connection_retry_on_startup"]


def test_every_task_routes_to_one_of_the_four_queues():
    conf = celery_config(Settings())
    assert {q.name for q in conf["task_queues"]} == {"ingest", "extract", "retrain", "reclassify"}
    for name, route in conf["task_routes"].items():
        assert route["queue"] in task_names.QUEUES, name
    assert all(e["task"] in task_names.ROUTES for e in conf["beat_schedule"].values())


def test_a_visibility_timeout_shorter_than_a_task_is_refused():
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="VISIBILITY_TIMEOUT"):
        Settings(celery_visibility_timeout=600, celery_task_time_limit=3600)


def test_task_events_are_sent_only_when_asked_for():
    # Flower turns events on at run time; without it workers publish nothing per task.
    assert not celery_config(Settings())["worker_send_task_events"]
    on = celery_config(Settings(celery_task_events=True))
    assert on["worker_send_task_events"] and on["task_send_sent_event"]
