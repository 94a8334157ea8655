"""Every metric the services export follows Prometheus's conventions, checked by ``promtool check metrics``
(built from the Go module proxy by scripts/install-monitoring-tools.sh; if that fails, this test fails) and by the
same rules applied here: ``pp_`` prefix, counters end in ``_total``, times in ``_seconds``, bounded labels."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from common.infra import metrics

ROOT = Path(__file__).resolve().parents[4]
PROMTOOL = ROOT / ".local" / "tools" / "bin" / "promtool"
NAME = re.compile(r"pp_[a-z][a-z0-9_]*")
TIME_WORDS = {"duration", "latency", "wait", "seconds", "age", "time"}  # words of a name that say "a time"
UNBOUNDED_LABELS = {"user", "username", "image_id", "face_id", "job_id", "persona", "name", "path", "id", "message"}


def _record_everything() -> None:
    metrics.record_request("/api/v1/personas/<persona_id>", "GET", 200, 0.01)
    metrics.record_task("pp.extract_image", "success", 0.2)
    metrics.record_retry("pp.extract_image")
    metrics.record_redelivery("pp.extract_image")
    metrics.record_poison_message("extract", "not JSON (Expecting value)")
    metrics.record_ingest_item("stored")
    metrics.record_ingest_item("rejected", "file too large: 30000000 bytes (limit 20971520)")
    metrics.record_extraction("processed", "dlib-hog", 2)
    metrics.record_training("active", 3.5, 7, labels=40, personas=4, macro_f1=0.9, accuracy=0.95)
    metrics.record_label_to_refresh("model", 12.0)
    metrics.record_reclassified("pass", 500)
    metrics.record_decisions_changed(3)
    metrics.record_azure_face_call(429)
    metrics.record_rate_limit_wait("pp:ratelimit:azure-face", 0.4)


@pytest.fixture(scope="module")
def exposition() -> str:
    _record_everything()
    text = generate_latest(REGISTRY).decode()
    return "".join(line + "\n" for line in text.splitlines() if "pp_" in line)  # ours, not the process_* ones


def _families(text: str):
    return [f for f in text_string_to_metric_families(text) if f.name.startswith("pp_")]


def test_names_units_and_suffixes(exposition):
    families = _families(exposition)
    assert len(families) >= 20
    for family in families:
        assert NAME.fullmatch(family.name), family.name
        names = {sample.name for sample in family.samples}
        if family.type == "counter":
            assert names == {family.name + "_total"}, family.name
        else:
            assert not family.name.endswith("_total"), f"only counters end in _total: {family.name}"
        if family.type == "histogram" or TIME_WORDS & set(family.name.split("_")):
            assert re.search(r"_seconds(_total)?$", family.name + ("_total" if family.type == "counter" else "")), (
                f"a time must be in seconds: {family.name}"
            )
        for sample in family.samples:
            assert not set(sample.labels) & UNBOUNDED_LABELS, f"unbounded label on {sample.name}: {sample.labels}"


def test_free_text_reasons_become_a_few_categories():
    assert metrics.category("file too large: 123 bytes (limit 9)", metrics.REJECT_REASONS) == "file_too_large"
    assert metrics.category("decompression bomb refused: 90000x90000", metrics.REJECT_REASONS) == (
        "decompression_bomb_refused"
    )
    assert metrics.category("something nobody foresaw", metrics.REJECT_REASONS) == "other"
    assert metrics.category("unknown task 'evil.<script>'", metrics.POISON_REASONS) == "unknown_task"
    assert metrics.queue_label("celery.pidbox.reply") == "other"


def test_promtool_finds_no_problem(exposition):
    script = ROOT / "scripts" / "install-monitoring-tools.sh"
    install = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, f"could not install promtool:\n{install.stderr}"
    check = subprocess.run([str(PROMTOOL), "check", "metrics"], input=exposition, capture_output=True, text=True,
                           timeout=60)  # fmt: skip
    assert check.returncode == 0 and not check.stdout.strip() and not check.stderr.strip(), check.stdout + check.stderr
