"""Settings reach pods from a ConfigMap, secrets only from Secrets (never a ConfigMap); the migration is a hook."""

from __future__ import annotations

import base64
import json

import pytest
import yaml

from tests.unit.deploy.helm import (
    AKS,
    CHART,
    FULL,
    SECRET_KEYS,
    VALUE_SETS,
    by_kind,
    container,
    deployment,
    env_of,
    helm,
    render,
)

# ---------------------------------------------------------------- config and secrets

# 32+ characters each: the chart refuses a shorter web session key
SECRET_SETS = [f"secrets.values.{key}=SECRET-{i}-do-not-leak-{'x' * 24}" for i, key in enumerate(SECRET_KEYS)]


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
    assert {"PP_WEB_SECRET_KEY", "PP_ADMIN_PASSWORD", "PP_ARTIFACT_HMAC_KEY", "FLOWER_BASIC_AUTH"} <= set(generated)
    assert len(base64.b64decode(generated["PP_WEB_SECRET_KEY"])) >= 32
    assert len(base64.b64decode(generated["PP_ARTIFACT_HMAC_KEY"])) >= 32


@pytest.mark.parametrize("key", ["PP_WEB_SECRET_KEY", "PP_ARTIFACT_HMAC_KEY"])
def test_chart_refuses_a_short_session_or_signing_key(key):
    result = helm("template", "pp", str(CHART), "--set", f"secrets.values.{key}=test-secret-key", check=False)
    assert result.returncode != 0 and "at least 32" in result.stderr


@pytest.mark.parametrize("missing", ["PP_WEB_SECRET_KEY", "PP_ADMIN_PASSWORD", "PP_ARTIFACT_HMAC_KEY"])
def test_without_generation_the_chart_fails_to_render_without_the_key(missing):
    """secrets.generate=false (helm template / GitOps: nothing to keep a generated key across renders)."""
    given = {"PP_WEB_SECRET_KEY": "k" * 40, "PP_ADMIN_PASSWORD": "an-admin-password", "PP_ARTIFACT_HMAC_KEY": "h" * 40}
    args = ["--set", "secrets.generate=false"]
    for key, value in given.items():
        if key != missing:
            args += ["--set", f"secrets.values.{key}={value}"]
    result = helm("template", "pp", str(CHART), *args, check=False)
    assert result.returncode != 0 and f"secrets.values.{missing} is required" in result.stderr
    assert by_kind(render("--set", "secrets.generate=false", *[a for k, v in given.items()
                                                               for a in ("--set", f"secrets.values.{k}={v}")]),
                   "Secret")[FULL]  # fmt: skip


def test_key_vault_mode_must_map_the_web_key():
    result = helm("template", "pp", str(CHART), "-f", str(AKS), "--set", "secrets.keyVault.objects.PP_WEB_SECRET_KEY=null",
                  check=False)  # fmt: skip
    assert result.returncode != 0 and "PP_WEB_SECRET_KEY is required" in result.stderr


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
    assert "PP_ARTIFACT_HMAC_KEY" in secret_env["web"] and "PP_ARTIFACT_HMAC_KEY" in secret_env["input-worker"]
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
