"""The config file and the cloud switch: the example parses, typos fail, --cloud moves every endpoint."""

from __future__ import annotations

import pytest
from azure.core.credentials import AccessToken

from orchestration_driver import engine
from orchestration_driver.arm import Clients
from orchestration_driver.chart import ROOT
from orchestration_driver.config import load_config, parse_config
from tests.unit.orchestration_driver.conftest import make_clients, make_config


def test_the_example_config_parses_with_the_documented_defaults():
    config = load_config(ROOT / "deploy" / "azure.example.toml")
    assert (config.group, config.cloud.name, config.sizes.face_sku, config.sizes.redis_sku) == (
        "persona-rg", "AzureCloud", "S0", "Balanced_B1")  # fmt: skip
    assert config.name("acr", compact=True) == "personaacr" and config.name("kv") == "persona-kv"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"sizes": {"aks_vm_sise": "x"}}, r"\[sizes\]: unknown keys aks_vm_sise"),
        ({"cloud": "AzureMoon"}, "unknown cloud 'AzureMoon'"),
        ({"prefix": "Has Spaces"}, "prefix must be"),
        ({"region": ""}, "region is required"),
    ],
)
def test_a_wrong_config_fails_before_any_request(data, message):
    with pytest.raises(ValueError, match=message):
        parse_config({"subscription_id": "s", "region": "westeurope", "prefix": "pp", **data})


class RecordingCredential:
    def __init__(self) -> None:
        self.scopes: set[str] = set()

    def get_token(self, *scopes: str, **kwargs) -> AccessToken:
        self.scopes.update(scopes)
        return AccessToken("fake-arm-token", 4_102_444_800)


def test_us_government_cloud_switches_endpoint_scope_and_suffixes(arm):
    config = parse_config({"subscription_id": "s", "region": "usgovvirginia", "prefix": "pp"}, "AzureUSGovernment")
    assert config.cloud.resource_manager == "https://management.usgovcloudapi.net"
    assert config.cloud.authority_host == "login.microsoftonline.us"
    assert Clients(RecordingCredential(), "s", config.cloud).endpoint == "https://management.usgovcloudapi.net"
    credential = RecordingCredential()
    clients = make_clients(arm, config, credential)
    engine.plan(config, clients, lambda _: None)
    clients.close()
    assert credential.scopes == {"https://management.usgovcloudapi.net/.default"}
    assert config.cloud.cassandra_suffix == "cassandra.cosmos.azure.us"
    assert make_config(cloud="AzureChinaCloud").cloud.storage_suffix == "core.chinacloudapi.cn"
