"""Writes the Grafana dashboard of the chart (charts/persona-pipeline/dashboards/persona-pipeline.json).

    .venv/bin/python scripts/grafana_dashboard.py          # write it
    .venv/bin/python scripts/grafana_dashboard.py --check  # exit 1 when the file is not what this writes

The panels are listed here as (title, unit, queries) so the queries stay readable; tests/unit/deploy/
test_helm_monitoring.py checks every query with `promtool` and that each metric it reads is one the services
export (docs/observability.md lists them).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "charts" / "persona-pipeline" / "dashboards" / "persona-pipeline.json"
NS = 'namespace="$namespace"'

# (row title, [(panel title, unit, [(PromQL, legend)])])
ROWS: list[tuple[str, list[tuple[str, str, list[tuple[str, str]]]]]] = [
    ("Queues", [
        ("Queue depth", "short", [(f"max by (queue) (pp_queue_depth{{{NS}}})", "{{queue}}")]),
        ("Full pass: faces still to predict", "short", [
            (f"max(pp_reclassify_pass_faces_pending{{{NS}}})", "pending"),
            (f"max(pp_reclassify_pass_faces_predicted{{{NS}}})", "predicted"),
        ]),
        ("Dependencies up (web's view)", "short", [(f"min by (component) (pp_up{{{NS}}})", "{{component}}")]),
    ]),
    ("Throughput", [
        ("Tasks done per second", "ops", [
            (f'sum by (task) (rate(pp_tasks_total{{{NS},outcome="success"}}[5m]))', "{{task}}"),
        ]),
        ("Ingested files per second", "ops", [
            (f"sum by (outcome) (rate(pp_ingest_items_total{{{NS}}}[5m]))", "{{outcome}}"),
            (f"sum(rate(pp_faces_detected_total{{{NS}}}[5m]))", "faces found"),
        ]),
        ("Faces predicted per second", "ops", [
            (f"sum by (kind) (rate(pp_reclassify_faces_total{{{NS}}}[5m]))", "{{kind}}"),
        ]),
        ("HTTP requests per second", "reqps", [
            (f"sum by (status) (rate(pp_http_requests_total{{{NS}}}[5m]))", "{{status}}"),
        ]),
        ("HTTP latency p95 by route", "s", [
            ("histogram_quantile(0.95, sum by (le, route) "
             f"(rate(pp_http_request_duration_seconds_bucket{{{NS}}}[5m])))", "{{route}}"),
        ]),
        ("Task duration p95", "s", [
            (f"histogram_quantile(0.95, sum by (le, task) (rate(pp_task_duration_seconds_bucket{{{NS}}}[5m])))",
             "{{task}}"),
        ]),
    ]),
    ("Failures", [
        ("Task failures, retries, redeliveries per second", "ops", [
            (f'sum by (task) (rate(pp_tasks_total{{{NS},outcome="failure"}}[5m]))', "failed {{task}}"),
            (f"sum by (task) (rate(pp_task_retries_total{{{NS}}}[5m]))", "retried {{task}}"),
            (f"sum by (task) (rate(pp_task_redeliveries_total{{{NS}}}[5m]))", "redelivered {{task}}"),
        ]),
        ("Rejected files and poison messages (last hour)", "short", [
            (f"sum by (reason) (increase(pp_ingest_rejected_total{{{NS}}}[1h]))", "rejected: {{reason}}"),
            (f"sum by (queue) (increase(pp_poison_messages_total{{{NS}}}[1h]))", "poison: {{queue}}"),
        ]),
        ("HTTP 5xx and Azure Face throttling per second", "ops", [
            (f'sum(rate(pp_http_requests_total{{{NS},status=~"5.."}}[5m]))', "HTTP 5xx"),
            (f"sum(rate(pp_azure_face_throttled_total{{{NS}}}[5m]))", "Azure Face 429"),
            (f"sum(rate(pp_rate_limiter_wait_seconds_total{{{NS}}}[5m]))", "rate-limiter wait (s/s)"),
        ]),
    ]),
    ("Training", [
        ("Trainings by gate decision (last hour)", "short", [
            (f"sum by (decision) (increase(pp_trainings_total{{{NS}}}[1h]))", "{{decision}}"),
        ]),
        ("Training duration", "s", [
            (f"histogram_quantile(0.5, sum by (le) (rate(pp_training_duration_seconds_bucket{{{NS}}}[1h])))", "p50"),
            (f"histogram_quantile(0.95, sum by (le) (rate(pp_training_duration_seconds_bucket{{{NS}}}[1h])))", "p95"),
        ]),
        ("Macro-F1 and accuracy per version", "percentunit", [
            (f"max by (version) (pp_model_macro_f1{{{NS}}})", "macro-F1 v{{version}}"),
            (f"max by (version) (pp_model_accuracy{{{NS}}})", "accuracy v{{version}}"),
        ]),
        ("Active version, labels and personas", "short", [
            (f"max(pp_active_model_version{{{NS}}})", "active version"),
            (f"max(pp_training_labels{{{NS}}})", "labels (last training)"),
            (f"max(pp_training_personas{{{NS}}})", "personas (last training)"),
        ]),
    ]),
    ("Label to refresh", [
        ("Label -> refreshed latency", "s", [
            (f"histogram_quantile(0.5, sum by (le, stage) (rate(pp_label_to_refresh_seconds_bucket{{{NS}}}[1h])))",
             "p50 {{stage}}"),
            (f"histogram_quantile(0.95, sum by (le, stage) (rate(pp_label_to_refresh_seconds_bucket{{{NS}}}[1h])))",
             "p95 {{stage}}"),
        ]),
        ("Full pass progress", "percentunit", [
            (f'max(pp_reclassify_pass_shards{{{NS},state="done"}})'
             f' / max(pp_reclassify_pass_shards{{{NS},state="planned"}})', "shards done"),
        ]),
        ("Decisions a full pass changed", "short", [
            (f"max(pp_reclassify_pass_decisions_changed{{{NS}}})", "newest pass"),
            (f"sum(increase(pp_reclassify_decisions_changed_total{{{NS}}}[1h]))", "last hour"),
        ]),
    ]),
]  # fmt: skip

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
VARIABLES = [
    {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"},
    {"name": "namespace", "type": "query", "label": "Namespace", "datasource": DATASOURCE,
     "query": {"query": "label_values(pp_up, namespace)", "refId": "namespace"},
     "definition": "label_values(pp_up, namespace)", "refresh": 2},
]  # fmt: skip


def panels() -> list[dict]:
    out: list[dict] = []
    y, panel_id = 0, 1
    for row_title, row_panels in ROWS:
        out.append({"type": "row", "title": row_title, "id": panel_id, "collapsed": False,
                    "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})  # fmt: skip
        panel_id, y = panel_id + 1, y + 1
        for index, (title, unit, queries) in enumerate(row_panels):
            width = 8 if len(row_panels) % 3 == 0 else 12
            x = (index * width) % 24
            if index and x == 0:
                y += 8
            out.append({
                "type": "timeseries", "title": title, "id": panel_id, "datasource": DATASOURCE,
                "gridPos": {"h": 8, "w": width, "x": x, "y": y},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                            "tooltip": {"mode": "multi", "sort": "desc"}},
                "targets": [{"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr,
                             "legendFormat": legend} for i, (expr, legend) in enumerate(queries)],
            })  # fmt: skip
            panel_id += 1
        y += 8
    return out


def dashboard() -> dict:
    return {
        "uid": "persona-pipeline",
        "title": "persona-pipeline",
        "description": "Queues, throughput, failures, training and label-to-refresh latency (docs/observability.md).",
        "tags": ["persona-pipeline"],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "utc",
        "templating": {"list": VARIABLES},
        "annotations": {"list": []},
        "panels": panels(),
    }


def queries() -> list[str]:
    return [expr for _, row_panels in ROWS for _, _, qs in row_panels for expr, _ in qs]


def render() -> str:
    return json.dumps(dashboard(), indent=1) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = OUT.read_text() if OUT.exists() else ""
        if current != text:
            print(f"{OUT.relative_to(ROOT)} is out of date: run python scripts/grafana_dashboard.py")
            return 1
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
