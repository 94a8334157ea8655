"""Workloads: singletons stay single, KEDA and HPA never fight, every container is hardened, sized and probed."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from common.infra.celery_app import queue_lists
from tests.unit.deploy.helm import (
    AKS,
    AUTOSCALED_WORKERS,
    CHART,
    FULL,
    VALUE_SETS,
    WORKERS,
    by_kind,
    container,
    deployment,
    pod_objects,
    render,
)

# ---------------------------------------------------------------- singletons and commands


@pytest.mark.parametrize("name", list(VALUE_SETS))
def test_retrain_worker_has_exactly_one_replica_and_concurrency_one(name):
    docs = render(*VALUE_SETS[name])
    retrain = deployment(docs, "retrain-worker")
    assert retrain["spec"]["replicas"] == 1
    assert retrain["spec"]["strategy"]["type"] == "Recreate"  # a rollout never runs two
    cmd = container(retrain)["command"]
    assert cmd[:4] == ["celery", "-A", "trainer_worker.app", "worker"]
    assert cmd[cmd.index("-Q") + 1] == "retrain"
    assert cmd[cmd.index("--concurrency") + 1] == "1"
    targets = [
        d["spec"]["scaleTargetRef"]["name"] for d in docs if d["kind"] in ("HorizontalPodAutoscaler", "ScaledObject")
    ]
    assert retrain["metadata"]["name"] not in targets


@pytest.mark.parametrize("name", list(VALUE_SETS))
def test_beat_is_a_single_recreated_replica(name):
    beat = deployment(render(*VALUE_SETS[name]), "beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    assert container(beat)["command"] == [
        "celery",
        "-A",
        "trainer_worker.app",
        "beat",
        "--schedule",
        "/tmp/celerybeat-schedule",
        "--loglevel",
        "INFO",
    ]


def test_worker_queues_and_commands():
    docs = render()
    cmd = container(deployment(docs, "input-worker"))["command"]
    assert cmd[:4] == ["celery", "-A", "input_worker.app", "worker"]
    assert cmd[cmd.index("-Q") + 1] == "ingest,extract"
    assert cmd[cmd.index("--concurrency") + 1] == "2"
    assert cmd[cmd.index("-n") + 1] == "input@%h"
    cmd = container(deployment(docs, "reclassify-worker"))["command"]
    assert cmd[:4] == ["celery", "-A", "trainer_worker.app", "worker"]
    assert cmd[cmd.index("-Q") + 1] == "reclassify"
    assert cmd[cmd.index("-n") + 1] == "reclassify@%h"
    web = container(deployment(docs, "web"))["command"]
    assert web == ["gunicorn", "-c", "python:visualization_web.gunicorn_conf", "--bind", "0.0.0.0:8000",
                   "--bind", "0.0.0.0:9464", "visualization_web.app:create_app()"]  # fmt: skip
    flower = container(deployment(docs, "flower"))["command"]
    assert flower == ["celery", "-A", "trainer_worker.app", "flower", "--port=5555"]


@pytest.mark.parametrize("name", ["default", "aks"])
def test_web_runs_at_least_two_replicas(name):
    docs = render(*VALUE_SETS[name])
    web = deployment(docs, "web")
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    if f"{FULL}-web" in hpas:
        assert "replicas" not in web["spec"]
        assert hpas[f"{FULL}-web"]["spec"]["minReplicas"] >= 2
    else:
        assert web["spec"]["replicas"] >= 2


def test_the_aks_ingress_takes_uploads_and_requests_as_large_and_long_as_the_web_app_does():
    from common.infra.settings import Settings

    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    ingress = by_kind(render(*VALUE_SETS["aks"]), "Ingress")[f"{FULL}-web"]
    annotations = ingress["metadata"]["annotations"]
    body = annotations["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert body.endswith("m") and int(body[:-1]) * 1024 * 1024 >= defaults["max_upload_bytes"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= defaults["web_timeout"]


# ---------------------------------------------------------------- scaling


@pytest.mark.parametrize("name", list(VALUE_SETS))
def test_keda_and_hpa_never_target_the_same_deployment(name):
    docs = render(*VALUE_SETS[name])
    hpa_targets = [d["spec"]["scaleTargetRef"]["name"] for d in docs if d["kind"] == "HorizontalPodAutoscaler"]
    keda_targets = [d["spec"]["scaleTargetRef"]["name"] for d in docs if d["kind"] == "ScaledObject"]
    assert len(hpa_targets) == len(set(hpa_targets))
    assert len(keda_targets) == len(set(keda_targets))
    assert not set(hpa_targets) & set(keda_targets)
    deployments = by_kind(docs, "Deployment")
    for target in hpa_targets + keda_targets:
        assert target in deployments
        # An autoscaled Deployment leaves replicas to the autoscaler (upgrades do not reset it).
        assert "replicas" not in deployments[target]["spec"]


@pytest.mark.parametrize(
    ("name", "keda"), [("default", False), ("aks", True), ("aks-keda-off", False), ("keda-dev-redis", True)]
)
def test_workers_scale_with_keda_when_enabled_else_with_a_cpu_hpa(name, keda):
    docs = render(*VALUE_SETS[name])
    scaled = {d["spec"]["scaleTargetRef"]["name"] for d in docs if d["kind"] == "ScaledObject"}
    hpas = {d["spec"]["scaleTargetRef"]["name"]: d for d in docs if d["kind"] == "HorizontalPodAutoscaler"}
    for worker in AUTOSCALED_WORKERS:
        target = f"{FULL}-{worker}"
        if keda:
            assert target in scaled and target not in hpas
        else:
            assert target in hpas and target not in scaled
            metric = hpas[target]["spec"]["metrics"][0]
            assert metric["resource"]["name"] == "cpu"


def test_scaled_objects_watch_the_redis_lists_of_each_worker_queue_and_priority():
    docs = render(*VALUE_SETS["aks"])
    aks_values = yaml.safe_load(AKS.read_text())
    for worker in AUTOSCALED_WORKERS:
        so = by_kind(docs, "ScaledObject")[f"{FULL}-{worker}"]
        cmd = container(deployment(docs, worker))["command"]
        queues = cmd[cmd.index("-Q") + 1].split(",")
        triggers = so["spec"]["triggers"]
        lists = [name for queue in queues for name in queue_lists(queue)]  # Celery queue = Redis list per priority
        assert [t["type"] for t in triggers] == ["redis"] * len(lists)
        assert [t["metadata"]["listName"] for t in triggers] == lists
        for t in triggers:
            meta = t["metadata"]
            assert meta["address"] == aks_values["keda"]["redis"]["address"]
            assert meta["enableTLS"] == "true"
            assert meta["databaseIndex"] == "0"
            assert int(meta["listLength"]) >= 1
            assert all(isinstance(v, str) for v in meta.values())  # KEDA metadata is map[string]string
            assert t["authenticationRef"]["name"] == f"{FULL}-redis-auth"
        assert so["spec"]["minReplicaCount"] >= 1
    auth = by_kind(docs, "TriggerAuthentication")[f"{FULL}-redis-auth"]
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "password", "name": f"{FULL}-kv", "key": "PP_REDIS_PASSWORD"}
    ]


def test_values_file_warns_that_prefetched_tasks_are_not_in_the_list():
    text = (CHART / "values.yaml").read_text()
    assert "prefetched" in text and "unacked" in text


# ---------------------------------------------------------------- hardening, resources, probes


@pytest.mark.parametrize("name", list(VALUE_SETS))
def test_every_container_is_sized_and_hardened(name):
    docs = render(*VALUE_SETS[name])
    objects = pod_objects(docs)
    assert len(objects) >= 7
    for obj in objects:
        spec = obj["spec"]["template"]["spec"]
        label = f"{obj['kind']}/{obj['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, label
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", label
        assert spec.get("automountServiceAccountToken") is False, label
        tmp_volumes = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for c in spec.get("initContainers", []) + spec["containers"]:
            res = c["resources"]
            assert res["requests"]["cpu"] and res["requests"]["memory"], label
            assert res["limits"]["memory"], label
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, label
            assert sc["allowPrivilegeEscalation"] is False, label
            assert sc["capabilities"]["drop"] == ["ALL"], label
            assert sc.get("privileged", False) is False, label
            mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
            assert mounts.get("/tmp") in tmp_volumes, f"{label}: /tmp must be an emptyDir"


@pytest.mark.parametrize("name", list(VALUE_SETS))
def test_every_long_running_container_has_a_liveness_probe(name):
    docs = render(*VALUE_SETS[name])
    for obj in docs:
        if obj["kind"] in ("Deployment", "StatefulSet"):
            for c in obj["spec"]["template"]["spec"]["containers"]:
                assert "livenessProbe" in c, f"{obj['metadata']['name']}/{c['name']}"


def test_web_probes_use_healthz():
    c = container(deployment(render(), "web"))
    # ready when Cassandra and Redis answer: with the workers down the UI still serves (and says so)
    assert c["readinessProbe"]["httpGet"]["path"] == "/healthz?workers=0"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz?live=1"
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz?live=1"
    assert c["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"},
                          {"name": "metrics", "containerPort": 9464, "protocol": "TCP"}]  # fmt: skip


@pytest.mark.parametrize("name", ["default", "aks"])
def test_metrics_are_scraped_from_the_pods_and_never_routed_by_the_service_or_ingress(name):
    docs = render(*VALUE_SETS[name], "--set", "web.ingress.enabled=true")
    web = deployment(docs, "web")
    annotations = web["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert (annotations["prometheus.io/port"], annotations["prometheus.io/path"]) == ("9464", "/metrics")
    service = by_kind(docs, "Service")[f"{FULL}-web"]
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    ingress = by_kind(docs, "Ingress")[f"{FULL}-web"]
    backends = [p["backend"]["service"]["port"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]]
    assert backends == [{"name": "http"}]


@pytest.mark.parametrize("worker", WORKERS)
def test_worker_liveness_is_a_cheap_heartbeat_check_not_celery_inspect(worker):
    c = container(deployment(render(), worker))
    for probe in ("livenessProbe", "startupProbe"):
        command = " ".join(c[probe]["exec"]["command"])
        assert "PP_HEARTBEAT_FILE" in command and "st_mtime" in command and "< 120" in command
        assert "inspect" not in command and "ping" not in command
    assert c["livenessProbe"]["periodSeconds"] >= 30


def test_heartbeat_probe_command_really_checks_the_file_age(tmp_path):
    """Run the probe's own Python against a fresh and a stale heartbeat file."""
    import os
    import sys
    import time

    command = container(deployment(render(), "input-worker"))["livenessProbe"]["exec"]["command"]
    assert command[:2] == ["python", "-c"]
    beat = tmp_path / "heartbeat"
    env = {**os.environ, "PP_HEARTBEAT_FILE": str(beat)}
    run = lambda: subprocess.run([sys.executable, "-c", command[2]], env=env).returncode  # noqa: E731
    assert run() != 0  # missing file
    beat.touch()
    assert run() == 0
    old = time.time() - 300
    os.utime(beat, (old, old))
    assert run() != 0


def test_termination_grace_lets_tasks_finish_on_warm_shutdown():
    docs = render()
    grace = {w: deployment(docs, w)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] for w in WORKERS}
    assert grace["input-worker"] >= 300
    assert grace["reclassify-worker"] >= 300
    assert grace["retrain-worker"] >= 900


def test_pod_disruption_budgets_cover_multi_replica_workloads_only():
    pdbs = by_kind(render(), "PodDisruptionBudget")
    assert set(pdbs) == {f"{FULL}-web", f"{FULL}-input-worker", f"{FULL}-reclassify-worker"}
    assert pdbs[f"{FULL}-web"]["spec"]["minAvailable"] == 1
    for pdb in pdbs.values():
        component = pdb["metadata"]["labels"]["app.kubernetes.io/component"]
        assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == component
