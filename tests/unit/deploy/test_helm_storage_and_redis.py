"""Blob storage, Redis and the install notes."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.unit.deploy.helm import (
    AKS,
    CHART,
    FULL,
    KUBE,
    RELEASE,
    VALUE_SETS,
    WORKERS,
    by_kind,
    container,
    deployment,
    helm,
    pod_objects,
    render,
)

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
