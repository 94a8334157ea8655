"""The chart passes helm lint, strict Kubernetes schemas, and its values schema refuses bad values."""

from __future__ import annotations

import subprocess

import pytest

from tests.unit.deploy.helm import (
    AKS,
    CHART,
    KUBE,
    RELEASE,
    ROOT,
    VALUE_SETS,
    helm,
    render_text,
)

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
