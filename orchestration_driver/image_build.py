"""The image step of ``up``: build the service image inside the registry with ACR Tasks, streaming its log.

The source folder goes up as a tar.gz to the upload URL the registry hands out (``listBuildSourceUploadUrl``),
a Docker build run is scheduled on it (``scheduleRun``), and the run's log is followed through its SAS link
until the run ends; the result is the pushed image's digest. No Docker is needed on the operator's machine.
"""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import requests

from orchestration_driver.arm import Clients, to_rest
from orchestration_driver.config import DeployConfig
from orchestration_driver.resources import Actual

SKIPPED_DIRS = {".git", ".venv", ".local", "__pycache__", "node_modules", ".pytest_cache", ".ruff_cache"}
FINISHED = {"Succeeded", "Failed", "Canceled", "Error", "Timeout"}


class BuildFailed(Exception):
    pass


def source_archive(root: Path) -> bytes:
    """The build context as tar.gz; the registry's builder applies .dockerignore itself."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if path.is_file() and not SKIPPED_DIRS.intersection(relative.parts):
                tar.add(path, arcname=relative.as_posix(), recursive=False)
    return buffer.getvalue()


def build_image(config: DeployConfig, clients: Clients, actual: Actual, source: Path,
                say: Callable[[str], None] = print) -> str:  # fmt: skip
    """Build and push ``<image_name>:<image_tag>`` in the registry; returns its digest."""
    rg, registry = config.group, actual["registry"]["name"]
    verify = clients.client_options.get("connection_verify", True)
    upload = to_rest(clients.tasks.registries.get_build_source_upload_url(rg, registry))
    archive = source_archive(source)
    say(f"image: uploading the build context ({len(archive) / 1e6:.1f} MB)")
    put = requests.put(upload["uploadUrl"], data=archive, headers={"x-ms-blob-type": "BlockBlob"}, verify=verify,
                       timeout=600)  # fmt: skip
    put.raise_for_status()
    image = f"{config.kubernetes.image_name}:{config.kubernetes.image_tag}"
    request = {"type": "DockerBuildRequest", "imageNames": [image], "isPushEnabled": True,
               "sourceLocation": upload["relativePath"], "dockerFilePath": "Dockerfile",
               "platform": {"os": "Linux", "architecture": "amd64"}}  # fmt: skip
    run_id = to_rest(clients.tasks.registries.schedule_run(rg, registry, request))["properties"]["runId"]
    say(f"image: run {run_id} building {image}")
    offset, status, run = 0, "", {}
    while status not in FINISHED:
        time.sleep(clients.poll_seconds)
        run = to_rest(clients.tasks.runs.get(rg, registry, run_id))
        status = run["properties"].get("status", "")
        link = to_rest(clients.tasks.runs.get_log_sas_url(rg, registry, run_id)).get("logLink")
        if link:
            chunk = requests.get(link, headers={"Range": f"bytes={offset}-"}, verify=verify, timeout=60)
            if chunk.status_code in (200, 206) and chunk.content:
                offset += len(chunk.content)
                for line in chunk.content.decode("utf-8", "replace").splitlines():
                    say(f"  | {line}")
    if status != "Succeeded":
        raise BuildFailed(f"image run {run_id} ended {status}: {run['properties'].get('runErrorMessage', '')}")
    digest = run["properties"]["outputImages"][0]["digest"]
    say(f"image: {actual['registry']['properties']['loginServer']}/{image}@{digest}")
    return digest


def latest_digest(config: DeployConfig, clients: Clients, registry: str) -> str:
    """The digest of the newest successful build of the configured image, or '' if there is none."""
    image = f"{config.kubernetes.image_name}:{config.kubernetes.image_tag}"
    built = []
    for run in clients.tasks.runs.list(config.group, registry):
        props = to_rest(run)["properties"]
        for out in props.get("outputImages") or []:
            if props.get("status") == "Succeeded" and f"{out.get('repository')}:{out.get('tag')}" == image:
                built.append((str(props.get("finishTime") or props.get("runId")), out["digest"]))
    return max(built)[1] if built else ""
