"""The chart step of ``up``: values generated from what was created, and ``helm upgrade --install``.

The generated file holds names, endpoints and ids only (registry, Cosmos DB contact point, Face endpoint,
Redis host, Key Vault name, tenant and client ids); it is layered on charts/persona-pipeline/values-aks.yaml.
Every secret reaches the pods through the Key Vault SecretProviderClass, never through helm. helm itself
runs behind :class:`Helm`, so tests capture its arguments.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

from orchestration_driver.arm import Clients
from orchestration_driver.config import DeployConfig
from orchestration_driver.resources import Actual

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "persona-pipeline"
AKS_VALUES = CHART / "values-aks.yaml"
REDIS_PORT = 10000


class Helm(Protocol):
    def __call__(self, args: Sequence[str]) -> int: ...


def subprocess_helm(binary: str = "helm") -> Helm:
    def run(args: Sequence[str]) -> int:
        return subprocess.run([binary, *args], check=False).returncode

    return run


def chart_values(config: DeployConfig, actual: Actual, digest: str = "") -> dict:
    """The values overlay for values-aks.yaml, from the actual state of the resources (no secret in it)."""
    k8s = config.kubernetes
    cosmos = actual["cosmos"]
    identity = actual["identity"]["properties"]
    locations = cosmos.get("properties", {}).get("locations") or [{"locationName": config.region}]
    app_config = {
        "PP_CASSANDRA_HOSTS": f"{cosmos['name']}.{config.cloud.cassandra_suffix}",
        "PP_CASSANDRA_USERNAME": cosmos["name"],
        "PP_CASSANDRA_LOCAL_DC": locations[0]["locationName"],
        "PP_CASSANDRA_KEYSPACE": config.keyspace,
        "PP_AZURE_FILES_SHARE": config.share,
        "PP_FACE_DETECTOR": "azure" if "face" in actual else "dlib-hog",
        "PP_AZURE_FACE_ENDPOINT": actual["face"]["properties"]["endpoint"] if "face" in actual else "",
    }
    values: dict = {
        "image": {"repository": f"{actual['registry']['properties']['loginServer']}/{k8s.image_name}",
                  "tag": k8s.image_tag, "digest": digest},
        "serviceAccount": {"name": k8s.service_account,
                           "annotations": {"azure.workload.identity/client-id": identity["clientId"]}},
        "config": app_config,
        "secrets": {"keyVault": {"keyvaultName": actual["vault"]["name"], "tenantId": identity["tenantId"],
                                 "clientId": identity["clientId"]}},
        "web": {"ingress": {"host": k8s.ingress_host, "tls": [{"secretName": "persona-tls",
                                                               "hosts": [k8s.ingress_host]}]}},
    }  # fmt: skip
    if "redis" in actual:
        values["keda"] = {"redis": {"address": f"{actual['redis']['properties']['hostName']}:{REDIS_PORT}"}}
    return values


def helm_arguments(config: DeployConfig, values_file: Path, kubeconfig: Path | None) -> list[str]:
    k8s = config.kubernetes
    args = ["upgrade", "--install", k8s.release, str(CHART), "--namespace", k8s.namespace, "--create-namespace",
            "-f", str(AKS_VALUES), "-f", str(values_file), "--timeout", "15m", "--wait"]  # fmt: skip
    return args + (["--kubeconfig", str(kubeconfig)] if kubeconfig else [])


@contextlib.contextmanager
def cluster_kubeconfig(config: DeployConfig, clients: Clients, cluster: str) -> Iterator[Path]:
    """The cluster's user kubeconfig in a private temporary file (0600), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="pp-deploy-") as tmp:
        path = Path(tmp) / "kubeconfig"
        result = clients.aks.managed_clusters.list_cluster_user_credentials(config.group, cluster)
        raw = result.kubeconfigs[0].value
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw if isinstance(raw, bytes) else raw.encode())
        yield path


def deploy_chart(config: DeployConfig, clients: Clients, actual: Actual, helm: Helm,
                 say: Callable[[str], None] = print, digest: str = "") -> int:  # fmt: skip
    """Write the values next to the kubeconfig and run ``helm upgrade --install``."""
    import yaml  # only here: pyyaml is not a runtime dependency of the image

    values = chart_values(config, actual, digest)
    with cluster_kubeconfig(config, clients, actual["aks"]["name"]) as kubeconfig:
        values_file = kubeconfig.parent / "values-generated.yaml"
        values_file.write_text(yaml.safe_dump(values, sort_keys=False), encoding="utf-8")
        say(f"helm upgrade --install {config.kubernetes.release} (generated values: {', '.join(values)})")
        return helm(helm_arguments(config, values_file, kubeconfig))


def release_status(config: DeployConfig, clients: Clients, cluster: str, helm: Helm) -> int:
    """``helm status`` of the release (helm prints it)."""
    k8s = config.kubernetes
    with cluster_kubeconfig(config, clients, cluster) as kubeconfig:
        return helm(["status", k8s.release, "--namespace", k8s.namespace, "--kubeconfig", str(kubeconfig)])
