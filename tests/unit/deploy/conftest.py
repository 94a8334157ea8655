"""Deployment tests use the real tools (helm, kubernetes-validate, docker-compose, hadolint) from
.local/tools/bin, installed by scripts/install-deploy-tools.sh; if that fails, the tests fail."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = ROOT / ".local" / "tools" / "bin"
TOOLS = ("helm", "docker-compose", "hadolint")


@pytest.fixture(scope="session", autouse=True)
def deploy_tools() -> Path:
    """Install (or confirm) the tools; a failure fails the run."""
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "install-deploy-tools.sh")], capture_output=True, text=True, timeout=900
    )
    if result.returncode != 0 or not all((BIN / tool).exists() for tool in TOOLS):
        pytest.fail(f"could not install the deployment tools:\n{result.stdout}\n{result.stderr}", pytrace=False)
    return BIN
