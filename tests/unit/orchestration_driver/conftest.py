"""The driver's real code and the real management SDKs, pointed at a local resource manager (tests/support)."""

from __future__ import annotations

import pytest
from azure.core.credentials import AccessToken

from orchestration_driver.arm import Clients
from orchestration_driver.config import DeployConfig, parse_config
from tests.support.fake_arm import FakeArm

SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"


class StaticToken:
    """A test double for the credential only: every request carries this bearer token."""

    def get_token(self, *scopes: str, **kwargs) -> AccessToken:
        return AccessToken("fake-arm-token", 4_102_444_800)


@pytest.fixture
def arm():
    with FakeArm() as server:
        yield server


def make_config(**overrides) -> DeployConfig:
    data = {"subscription_id": SUBSCRIPTION, "region": "westeurope", "prefix": "pptest", "poll_seconds": 0.01}
    return parse_config({**data, **overrides})


@pytest.fixture
def config() -> DeployConfig:
    return make_config()


@pytest.fixture
def clients(arm, config):
    made = make_clients(arm, config)
    yield made
    made.close()


def make_clients(server: FakeArm, config: DeployConfig, credential=None) -> Clients:
    return Clients(credential or StaticToken(), config.subscription_id, config.cloud, base_url=server.url,
                   poll_seconds=0.01, client_options={"connection_verify": str(server.ca_path)})  # fmt: skip
