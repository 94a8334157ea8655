"""Monitoring in the chart: every worker declares its metrics port; behind monitoring.enabled a ServiceMonitor
(web, through a metrics-only headless Service) and a PodMonitor (workers) that select exactly those pods and
ports; the Grafana dashboard ConfigMap carries the sidecar label and a dashboard whose every query is valid
PromQL (promtool) over metrics the services export."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from tests.unit.deploy.helm import AKS, CHART, FULL, KUBE, RELEASE, ROOT, WORKERS, by_kind, helm, render

MONITORING = ("--set", "monitoring.enabled=true", "--set", "monitoring.dashboards.enabled=true")
TOOLS = ROOT / ".local" / "tools" / "bin"


@pytest.fixture(scope="module")
def monitoring_tools():
    result = subprocess.run(["bash", str(ROOT / "scripts" / "install-monitoring-tools.sh")], capture_output=True,
                            text=True, timeout=900)  # fmt: skip
    assert result.returncode == 0, f"could not install the monitoring tools:\n{result.stderr}"
    return TOOLS


def _pod_labels(deployment: dict) -> dict:
    return deployment["spec"]["template"]["metadata"]["labels"]


def _ports(deployment: dict) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]}


def _matches(selector: dict, labels: dict) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    return all(labels.get(e["key"]) in e["values"] for e in selector.get("matchExpressions", []))


def test_monitors_are_off_by_default_but_every_worker_serves_its_metrics_port():
    docs = render()
    assert not [d for d in docs if d["kind"] in ("ServiceMonitor", "PodMonitor")]
    assert f"{FULL}-dashboards" not in by_kind(docs, "ConfigMap")
    deployments = by_kind(docs, "Deployment")
    for worker in WORKERS:
        assert _ports(deployments[f"{FULL}-{worker}"]) == {"metrics": 9465}, worker
    config = by_kind(docs, "ConfigMap")[FULL]["data"]
    assert config["PP_WORKER_METRICS_PORT"] == "9465" and config["PP_LOG_FORMAT"] == "json"


def test_the_monitors_select_exactly_the_pods_and_ports_that_serve_metrics():
    docs = render(*MONITORING)
    deployments = by_kind(docs, "Deployment")
    services = by_kind(docs, "Service")
    (service_monitor,) = by_kind(docs, "ServiceMonitor").values()
    (pod_monitor,) = by_kind(docs, "PodMonitor").values()
    assert service_monitor["apiVersion"] == pod_monitor["apiVersion"] == "monitoring.coreos.com/v1"

    metrics_services = [s for s in services.values() if _matches(service_monitor["spec"]["selector"],
                                                                 s["metadata"]["labels"])]  # fmt: skip
    assert [s["metadata"]["name"] for s in metrics_services] == [f"{FULL}-web-metrics"]
    service = metrics_services[0]
    assert service["spec"]["clusterIP"] == "None" and [p["name"] for p in service["spec"]["ports"]] == ["metrics"]
    selected = [name for name, d in deployments.items() if _matches({"matchLabels": service["spec"]["selector"]},
                                                                     _pod_labels(d))]  # fmt: skip
    assert selected == [f"{FULL}-web"] and _ports(deployments[f"{FULL}-web"])["metrics"] == 9464
    assert [p["targetPort"] for p in services[f"{FULL}-web"]["spec"]["ports"]] == ["http"]  # never the metrics port
    assert [e["port"] for e in service_monitor["spec"]["endpoints"]] == ["metrics"]

    scraped = sorted(name for name, d in deployments.items() if _matches(pod_monitor["spec"]["selector"],
                                                                         _pod_labels(d)))  # fmt: skip
    assert scraped == sorted(f"{FULL}-{w}" for w in WORKERS)
    assert [e["port"] for e in pod_monitor["spec"]["podMetricsEndpoints"]] == ["metrics"]


def test_aks_uses_the_azure_monitor_managed_prometheus_crds():
    docs = render("-f", str(AKS))
    assert {d["apiVersion"] for d in docs if d["kind"] in ("ServiceMonitor", "PodMonitor")} == {
        "azmonitoring.coreos.com/v1"
    }


def test_monitors_and_dashboard_pass_strict_validation(monitoring_tools, tmp_path):
    out = helm("template", RELEASE, str(CHART), "--kube-version", KUBE, *MONITORING).stdout
    manifest = tmp_path / "monitoring.yaml"
    manifest.write_text(out)
    result = subprocess.run(["bash", str(ROOT / "scripts" / "validate-deploy.sh"), "--kube-validate", KUBE,
                             str(manifest)], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text(out.replace("podMetricsEndpoints:\n    - port: metrics", "podMetricsEndpoints:\n"
                                  "    - port: metrics\n      scrapeEvery: 30s", 1))  # fmt: skip
    refused = subprocess.run(["bash", str(ROOT / "scripts" / "validate-deploy.sh"), "--kube-validate", KUBE,
                              str(broken)], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert refused.returncode != 0 and "scrapeEvery" in refused.stdout


def _dashboard() -> tuple[dict, dict]:
    configmap = by_kind(render(*MONITORING), "ConfigMap")[f"{FULL}-dashboards"]
    return configmap, json.loads(configmap["data"]["persona-pipeline.json"])


def test_the_dashboard_configmap_is_for_the_grafana_sidecar_and_is_current():
    configmap, dashboard = _dashboard()
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard == json.loads((CHART / "dashboards" / "persona-pipeline.json").read_text())
    check = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "scripts" / "grafana_dashboard.py"),
                            "--check"], capture_output=True, text=True)  # fmt: skip
    assert check.returncode == 0, check.stdout
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for topic in ("queue depth", "tasks done", "failures", "training", "label -> refreshed latency"):
        assert topic in titles, topic


def _exported_names() -> set[str]:
    """Every series name the services export: the catalogue's (with their suffixes) and the web's state gauges."""
    from prometheus_client import REGISTRY

    from common.infra import metrics  # noqa: F401 (registers the catalogue)

    names = {sample.name for family in REGISTRY.collect() for sample in family.samples}
    for family in REGISTRY.collect():
        if family.name.startswith("pp_"):
            names |= {family.name + suffix for suffix in ("", "_total", "_bucket", "_sum", "_count")}
    web = (ROOT / "visualization_web" / "metrics.py").read_text()
    return names | set(re.findall(r'_gauge\("(pp_[a-z0-9_]+)"', web))


def test_every_dashboard_query_is_valid_promql_over_exported_metrics(monitoring_tools, tmp_path):
    _, dashboard = _dashboard()
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 20
    exported = _exported_names()
    for expr in exprs:
        used = set(re.findall(r"\bpp_[a-z0-9_]+", expr))
        assert used and used <= exported, f"{expr}: {used - exported} not exported"
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"pp:dashboard_query_{i}", "expr": expr.replace("$namespace", "persona")}
        for i, expr in enumerate(exprs)]}]}  # fmt: skip
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    check = subprocess.run([str(monitoring_tools / "promtool"), "check", "rules", str(path)], capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
