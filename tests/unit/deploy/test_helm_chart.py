"""The Helm chart, rendered and checked with the real tools (helm from .local/tools/bin).

Every test renders charts/persona-pipeline with `helm template` and asserts what an
operator relies on: singletons stay single, KEDA and HPA never fight over a
Deployment, secrets stay out of ConfigMaps, every container is hardened and sized,
the migration runs as a hook, and values.schema.json rejects bad values. The tools
are installed by scripts/install-deploy-tools.sh; if that fails, the tests fail.
"""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "persona-pipeline"
AKS = CHART / "values-aks.yaml"
BIN = ROOT / ".local" / "tools" / "bin"
KUBE = "1.34.0"
RELEASE = "pp"
FULL = f"{RELEASE}-persona-pipeline"
SECRET_KEYS = [
    "PP_CASSANDRA_PASSWORD",
    "PP_AZURE_FACE_KEY",
    "PP_AZURE_FILES_CONNECTION_STRING",
    "PP_WEB_SECRET_KEY",
    "PP_ADMIN_PASSWORD",
    "PP_REDIS_URL",
    "PP_REDIS_PASSWORD",
    "FLOWER_BASIC_AUTH",
]
WORKERS = ("input-worker", "reclassify-worker", "retrain-worker")
AUTOSCALED_WORKERS = ("input-worker", "reclassify-worker")

# Value sets the chart must render correctly (name -> helm arguments).
VALUE_SETS = {
    "default": [],
    "aks": ["-f", str(AKS)],
    "aks-keda-off": ["-f", str(AKS), "--set", "keda.enabled=false"],
    "keda-dev-redis": [
        "--set",
        "keda.enabled=true",
        "--set",
        "redis.enabled=true",
        "--set",
        "web.autoscaling.enabled=true",
    ],
    "existing-secret": [
        "--set",
        "secrets.existingSecret=pp-secrets",
        "--set",
        "config.PP_STORAGE_BACKEND=azure-files",
        "--set",
        "blobVolume.enabled=false",
    ],
}


@pytest.fixture(scope="session", autouse=True)
def deploy_tools() -> Path:
    """Install (or confirm) helm & co in .local/tools/bin; a failure fails the run."""
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "install-deploy-tools.sh")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0 or not (BIN / "helm").is_file():
        pytest.fail(f"could not install the deployment tools:\n{result.stdout}\n{result.stderr}", pytrace=False)
    return BIN


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([str(BIN / "helm"), *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@functools.cache
def _render(args: tuple[str, ...]) -> tuple[str, list[dict]]:
    out = helm("template", RELEASE, str(CHART), "--namespace", "persona", "--kube-version", KUBE, *args).stdout
    return out, [doc for doc in yaml.safe_load_all(out) if doc]


def render(*args: str) -> list[dict]:
    return _render(tuple(args))[1]


def render_text(*args: str) -> str:
    return _render(tuple(args))[0]


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def deployment(docs: list[dict], component: str) -> dict:
    return by_kind(docs, "Deployment")[f"{FULL}-{component}"]


def container(obj: dict) -> dict:
    containers = obj["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def pod_objects(docs: list[dict]) -> list[dict]:
    return [d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job")]


def env_of(c: dict) -> dict[str, dict]:
    return {e["name"]: e for e in c.get("env", [])}


# ---------------------------------------------------------------- lint and schemas


@pytest.mark.parametrize("values", [[], ["-f", str(AKS)]], ids=["default", "aks"])
def test_helm_lint_strict_passes(values):
    result = helm("lint", "--strict", "--kube-version", KUBE, str(CHART), *values)
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("name", ["default", "aks", "keda-dev-redis"])
@pytest.mark.parametrize("kube", ["1.31.0", "1.34.0"])
def test_rendered_objects_pass_strict_kubernetes_schema_validation(name, kube, tmp_path):
    out = helm("template", RELEASE, str(CHART), "--kube-version", kube, *VALUE_SETS[name]).stdout
    manifest = tmp_path / f"{name}.yaml"
    manifest.write_text(out)
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "validate-deploy.sh"), "--kube-validate", kube, str(manifest)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid against Kubernetes" in result.stdout


def test_strict_validation_rejects_an_unknown_field(tmp_path):
    """The validator is real: a typo in a rendered object is an error, as is a kind without a schema."""
    out = render_text(*VALUE_SETS["aks"])
    bad = tmp_path / "bad.yaml"
    bad.write_text(out.replace("  pollingInterval: 15", "  pollingInterval: 15\n  pollingIntervall: 15", 1))
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "validate-deploy.sh"), "--kube-validate", KUBE, str(bad)],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "pollingIntervall" in result.stdout


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("retrainWorker.replicas=2", "replicas"),
        ("beat.replicas=2", "replicas"),
        ("web.replicas=1", "minimum"),
        ("config.PP_CASSANDRA_FLAVOR=mysql", "apache"),
        ("config.PP_STORAGE_BACKEND=s3", "azure-files"),
        ("containerSecurityContext.readOnlyRootFilesystem=false", "true"),
        ("podSecurityContext.runAsNonRoot=false", "true"),
        ("config.PP_CASSANDRA_PASSWORD=hunter2", "PP_CASSANDRA_PASSWORD"),
        ("config.PP_REDIS_URL=redis://:pw@redis:6379/0", "PP_REDIS_URL"),
        ("inputWorker.queues={ingest,oops}", "ingest"),
        ("keda.redis.address=redis://host:6379", "address"),
    ],
)
def test_values_schema_rejects_bad_values(setting, message):
    result = helm("template", RELEASE, str(CHART), "--set", setting, check=False)
    assert result.returncode != 0, f"--set {setting} was accepted"
    assert "schema" in result.stderr
    assert message in result.stderr


def test_values_schema_rejects_a_value_of_the_wrong_type():
    result = helm("template", RELEASE, str(CHART), "--set", "inputWorker.concurrency=two", check=False)
    assert result.returncode != 0
    assert "concurrency" in result.stderr


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
    assert web[0] == "gunicorn" and "0.0.0.0:8000" in web and web[-1] == "visualization_web.app:create_app()"
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


def test_scaled_objects_watch_the_redis_list_of_each_worker_queue():
    docs = render(*VALUE_SETS["aks"])
    aks_values = yaml.safe_load(AKS.read_text())
    for worker in AUTOSCALED_WORKERS:
        so = by_kind(docs, "ScaledObject")[f"{FULL}-{worker}"]
        cmd = container(deployment(docs, worker))["command"]
        queues = cmd[cmd.index("-Q") + 1].split(",")
        triggers = so["spec"]["triggers"]
        assert [t["type"] for t in triggers] == ["redis"] * len(queues)
        assert [t["metadata"]["listName"] for t in triggers] == queues  # Celery queue = Redis list key
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
    assert c["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz?live=1"
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz?live=1"
    assert c["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]


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


# ---------------------------------------------------------------- config and secrets

SECRET_SETS = [f"secrets.values.{key}=SECRET-{i}-do-not-leak" for i, key in enumerate(SECRET_KEYS)]


def _with_secrets(*extra: str) -> list[str]:
    args = []
    for s in SECRET_SETS:
        args += ["--set", s]
    return args + list(extra)


def test_no_secret_value_appears_in_a_configmap_or_outside_secrets():
    docs = render(*_with_secrets("--set", "redis.enabled=true"))
    configmaps = by_kind(docs, "ConfigMap")
    assert configmaps
    for cm in configmaps.values():
        assert not set(cm["data"]) & set(SECRET_KEYS)
        assert "do-not-leak" not in json.dumps(cm)
    for doc in docs:
        if doc["kind"] != "Secret":
            assert "do-not-leak" not in json.dumps(doc), f"{doc['kind']}/{doc['metadata']['name']}"


def test_configmap_holds_the_non_secret_settings_and_skips_empty_ones():
    cm = by_kind(render(), "ConfigMap")[FULL]["data"]
    assert cm["PP_CASSANDRA_FLAVOR"] == "apache"
    assert cm["PP_STATE_DIR"].startswith("/tmp/")
    assert "PP_CASSANDRA_TLS" not in cm  # "" -> application default
    assert all(isinstance(v, str) for v in cm.values())
    aks = by_kind(render(*VALUE_SETS["aks"]), "ConfigMap")[FULL]["data"]
    assert aks["PP_CASSANDRA_FLAVOR"] == "cosmos"
    assert aks["PP_CASSANDRA_PORT"] == "10350"
    assert aks["PP_CASSANDRA_TLS"] == "true"
    assert aks["PP_STORAGE_BACKEND"] == "azure-files"
    assert aks["PP_FACE_DETECTOR"] == "azure"


def test_chart_secret_holds_the_given_values_and_generates_the_rest():
    docs = render(*_with_secrets())
    secret = by_kind(docs, "Secret")[FULL]
    assert set(secret["data"]) == set(SECRET_KEYS)
    generated = by_kind(render(), "Secret")[FULL]["data"]
    assert {"PP_WEB_SECRET_KEY", "PP_ADMIN_PASSWORD", "FLOWER_BASIC_AUTH"} <= set(generated)


def test_pods_get_only_the_secret_keys_of_their_role():
    docs = render()
    secret_env = {
        comp: {
            k for k, e in env_of(container(deployment(docs, comp))).items() if "secretKeyRef" in e.get("valueFrom", {})
        }
        for comp in ("web", "input-worker", "beat", "flower")
    }
    assert "PP_WEB_SECRET_KEY" in secret_env["web"] and "PP_ADMIN_PASSWORD" in secret_env["web"]
    assert "PP_WEB_SECRET_KEY" not in secret_env["input-worker"]
    assert "FLOWER_BASIC_AUTH" not in secret_env["web"]
    assert secret_env["flower"] == {"PP_REDIS_URL", "FLOWER_BASIC_AUTH"}
    assert secret_env["beat"] == {"PP_REDIS_URL"}
    for comp in ("web", "input-worker", "beat", "flower"):
        c = container(deployment(docs, comp))
        assert c["envFrom"] == [{"configMapRef": {"name": FULL}}]


def test_existing_secret_is_referenced_and_not_created():
    docs = render(*VALUE_SETS["existing-secret"])
    assert FULL not in by_kind(docs, "Secret")
    for comp in ("web", "input-worker", "flower"):
        refs = {
            e["valueFrom"]["secretKeyRef"]["name"] for e in container(deployment(docs, comp))["env"] if "valueFrom" in e
        }
        assert refs == {"pp-secrets"}
    job = by_kind(docs, "Job")[f"{FULL}-migrate"]
    assert env_of(container(job))["PP_CASSANDRA_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "pp-secrets"


def test_key_vault_csi_secret_provider_class():
    docs = render(*VALUE_SETS["aks"])
    assert not by_kind(docs, "Secret")  # nothing secret is rendered into the release
    spc = by_kind(docs, "SecretProviderClass")[FULL]
    assert spc["apiVersion"] == "secrets-store.csi.x-k8s.io/v1"
    params = spc["spec"]["parameters"]
    assert params["keyvaultName"] == "persona-kv"
    assert params["usePodIdentity"] == "false" and params["clientID"]
    objects = yaml.safe_load(params["objects"])["array"]
    aliases = {yaml.safe_load(o)["objectAlias"] for o in objects}
    assert aliases == set(SECRET_KEYS)
    synced = spc["spec"]["secretObjects"][0]
    assert synced["secretName"] == f"{FULL}-kv"
    assert {d["key"] for d in synced["data"]} == set(SECRET_KEYS)
    for comp in ("web", "input-worker", "retrain-worker", "beat", "flower"):
        d = deployment(docs, comp)
        volumes = {v["name"]: v for v in d["spec"]["template"]["spec"]["volumes"]}
        assert volumes["secrets-store"]["csi"]["volumeAttributes"]["secretProviderClass"] == FULL
        assert d["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"] == "true"
        refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in container(d)["env"] if "valueFrom" in e}
        assert refs == {f"{FULL}-kv"}


def test_checksum_annotations_roll_pods_when_config_or_secrets_change():
    def checksums(*args: str) -> dict[str, dict[str, str]]:
        return {
            d["metadata"]["name"]: d["spec"]["template"]["metadata"]["annotations"]
            for d in render(*args)
            if d["kind"] == "Deployment"
        }

    base = checksums()
    config_changed = checksums("--set", "config.PP_UNKNOWN_DISTANCE=0.5")
    secret_changed = checksums("--set", "secrets.values.PP_AZURE_FACE_KEY=new-key")
    assert len(base) == 6
    for name, ann in base.items():
        assert ann["checksum/config"] and ann["checksum/secret"]
        assert config_changed[name]["checksum/config"] != ann["checksum/config"]
        assert config_changed[name]["checksum/secret"] == ann["checksum/secret"]
        assert secret_changed[name]["checksum/secret"] != ann["checksum/secret"]
        assert secret_changed[name]["checksum/config"] == ann["checksum/config"]
    # Deterministic: rendering twice gives the same checksums (no spurious rollouts).
    assert checksums("--set", "config.PP_UNKNOWN_DISTANCE=0.5") == config_changed


# ---------------------------------------------------------------- migration hook


@pytest.mark.parametrize("name", ["default", "aks", "existing-secret"])
def test_migration_job_is_a_pre_install_pre_upgrade_hook(name):
    docs = render(*VALUE_SETS[name], "--set", "secrets.values.PP_CASSANDRA_PASSWORD=pw")
    job = by_kind(docs, "Job")[f"{FULL}-migrate"]
    ann = job["metadata"]["annotations"]
    assert ann["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in ann["helm.sh/hook-delete-policy"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    c = container(job)
    assert "persona-pipeline migrate" in " ".join(c["command"])
    # Hooks run before the release's regular objects exist: the Job must not need them.
    assert "envFrom" not in c
    env = env_of(c)
    assert env["PP_CASSANDRA_HOSTS"]["value"]
    hook_weight = int(ann["helm.sh/hook-weight"])
    regular_names = {d["metadata"]["name"] for d in docs if "helm.sh/hook" not in d["metadata"].get("annotations", {})}
    sa = job["spec"]["template"]["spec"]["serviceAccountName"]
    assert sa not in regular_names  # its own hook ServiceAccount
    for e in env.values():
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref and ref["name"] != "pp-secrets":  # an existing Secret exists before install
            assert ref["name"] not in regular_names
    for d in docs:
        d_ann = d["metadata"].get("annotations", {})
        if "helm.sh/hook" in d_ann and d["kind"] != "Job":
            assert d_ann["helm.sh/hook"] == "pre-install,pre-upgrade"
            assert int(d_ann["helm.sh/hook-weight"]) < hook_weight


# ---------------------------------------------------------------- storage and redis


def test_aks_uses_azure_files_without_any_volume_for_blobs():
    docs = render(*VALUE_SETS["aks"])
    assert not by_kind(docs, "PersistentVolumeClaim")
    for obj in pod_objects(docs):
        for v in obj["spec"]["template"]["spec"]["volumes"]:
            assert "persistentVolumeClaim" not in v


def test_local_blob_store_is_one_shared_volume_for_web_and_workers():
    docs = render()
    pvc = by_kind(docs, "PersistentVolumeClaim")[f"{FULL}-blobs"]
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    for comp in ("web", *WORKERS):
        spec = deployment(docs, comp)["spec"]["template"]["spec"]
        claims = [v["persistentVolumeClaim"]["claimName"] for v in spec["volumes"] if "persistentVolumeClaim" in v]
        assert claims == [f"{FULL}-blobs"]


def test_local_storage_without_a_shared_volume_is_refused():
    result = helm("template", RELEASE, str(CHART), "--set", "blobVolume.enabled=false", check=False)
    assert result.returncode != 0
    assert "blobVolume" in result.stderr


def test_keda_without_a_redis_address_is_refused():
    result = helm("template", RELEASE, str(CHART), "--set", "keda.enabled=true", check=False)
    assert result.returncode != 0
    assert "keda.redis.address" in result.stderr


def test_redis_is_external_by_default_and_the_dev_redis_persists_its_queue():
    assert not by_kind(render(), "StatefulSet")
    docs = render(*VALUE_SETS["keda-dev-redis"])
    sts = by_kind(docs, "StatefulSet")[f"{FULL}-redis"]
    c = container(sts)
    assert c["args"][:2] == ["--appendonly", "yes"]
    assert sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    assert {"name": "data", "mountPath": "/data"} in c["volumeMounts"]
    redis_url = by_kind(docs, "Secret")[FULL]["data"]["PP_REDIS_URL"]
    import base64

    assert base64.b64decode(redis_url).decode().endswith(f"@{FULL}-redis:6379/0")


def render_notes(*args: str, tmp_path: Path) -> str:
    """Render NOTES.txt with helm's engine (`helm install --dry-run` needs a cluster here):
    a copy of the chart wraps it in a define and emits it from a ConfigMap."""
    import shutil

    chart = tmp_path / "persona-pipeline"
    shutil.copytree(CHART, chart)
    notes = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "NOTES.txt").unlink()
    (chart / "templates" / "_notes_under_test.tpl").write_text(
        '{{- define "notes-under-test" -}}\n' + notes + "{{- end }}\n"
    )
    (chart / "templates" / "notes-under-test.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: |\n"
        '{{ include "notes-under-test" . | indent 4 }}\n'
    )
    out = helm(
        "template",
        RELEASE,
        str(chart),
        "--namespace",
        "persona",
        "--kube-version",
        KUBE,
        "--show-only",
        "templates/notes-under-test.yaml",
        *args,
    ).stdout
    return yaml.safe_load(out)["data"]["notes"]


def test_notes_explain_flower_access_and_warn_without_redis(tmp_path):
    notes = render_notes(tmp_path=tmp_path / "a")
    assert f"port-forward svc/{FULL}-flower" in notes and "FLOWER_BASIC_AUTH" in notes
    assert "WARNING: no Redis configured" in notes
    aks = render_notes("-f", str(AKS), tmp_path=tmp_path / "b")
    assert "WARNING" not in aks
    assert "KEDA ScaledObjects" in aks and "https://persona.example.com/" in aks
