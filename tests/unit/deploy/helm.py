"""Rendering charts/persona-pipeline with the real helm, and picking objects out of the result."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

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
    "PP_ARTIFACT_HMAC_KEY",
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
