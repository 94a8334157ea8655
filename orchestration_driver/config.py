"""The deployment's one config file (``deploy/azure.example.toml``), read with tomllib into typed settings.

Every Azure name derives from ``prefix`` unless the file names it; sizes default to the documented production
shape (docs/deploy-aks.md). Unknown keys are an error, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from orchestration_driver.clouds import Cloud, get_cloud


@dataclass(frozen=True)
class Sizes:
    aks_vm_size: str = "Standard_D4s_v5"
    aks_node_count: int = 3
    acr_sku: str = "Standard"
    cosmos_keyspace_throughput: int = 1000  # RU/s, manual; docs/capacity.md for larger corpora
    storage_sku: str = "Standard_LRS"
    share_quota_gib: int = 100
    face_sku: str = "S0"
    redis_sku: str = "Balanced_B1"


@dataclass(frozen=True)
class Parts:
    face: bool = True  # Azure AI Face; off: the pods use dlib
    redis: bool = True  # Azure Managed Redis; off: bring your own broker (secret redis-url)
    testdata: bool = False  # a "testdata" file share (and `up --with-testdata` fills it)


@dataclass(frozen=True)
class Kubernetes:
    namespace: str = "persona"
    release: str = "persona"
    ingress_host: str = "persona.example.com"
    service_account: str = "persona-pipeline"
    image_name: str = "persona-pipeline"
    image_tag: str = "0.1.0"


@dataclass(frozen=True)
class Testdata:
    share: str = "testdata"
    directory: str = "faces-small"
    folder: str = "../shared/datasets/faces-small"


@dataclass(frozen=True)
class DeployConfig:
    subscription_id: str
    region: str
    prefix: str
    cloud_name: str = "AzureCloud"
    resource_group: str = ""
    keyspace: str = "persona_pipeline"
    share: str = "persona-pipeline"
    poll_seconds: float = 10.0
    sizes: Sizes = field(default_factory=Sizes)
    parts: Parts = field(default_factory=Parts)
    kubernetes: Kubernetes = field(default_factory=Kubernetes)
    testdata: Testdata = field(default_factory=Testdata)

    @property
    def cloud(self) -> Cloud:
        return get_cloud(self.cloud_name)

    @property
    def group(self) -> str:
        return self.resource_group or f"{self.prefix}-rg"

    def name(self, suffix: str, compact: bool = False) -> str:
        """``<prefix>-<suffix>``; compact (registry, storage: lowercase letters and digits only)."""
        return re.sub(r"[^a-z0-9]", "", f"{self.prefix}{suffix}".lower())[:24] if compact else f"{self.prefix}-{suffix}"


SECTIONS = {"sizes": Sizes, "parts": Parts, "kubernetes": Kubernetes, "testdata": Testdata}
PREFIX = re.compile(r"^[a-z][a-z0-9-]{1,14}$")


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{where}: unknown keys {', '.join(unknown)}")
    return cls(**data)


def parse_config(data: dict[str, Any], cloud_override: str | None = None) -> DeployConfig:
    top = {k: v for k, v in data.items() if k not in SECTIONS}
    if "cloud" in top:
        top["cloud_name"] = top.pop("cloud")
    if cloud_override:
        top["cloud_name"] = cloud_override
    sections = {name: _build(cls, data.get(name, {}), f"[{name}]") for name, cls in SECTIONS.items()}
    for required in ("subscription_id", "region", "prefix"):
        if not top.get(required):
            raise ValueError(f"config: {required} is required")
    if not PREFIX.match(top["prefix"]):
        raise ValueError("config: prefix must be 2-15 lowercase letters, digits or '-', starting with a letter")
    config = _build(DeployConfig, {**top, **sections}, "config")
    config.cloud  # noqa: B018 - an unknown cloud fails here, before any request
    return config


def load_config(path: Path, cloud_override: str | None = None) -> DeployConfig:
    with path.open("rb") as handle:
        return parse_config(tomllib.load(handle), cloud_override)
