"""The Azure clouds the driver can target: management endpoint, sign-in authority and service DNS suffixes.

``--cloud AzureUSGovernment`` (or ``cloud = "..."`` in the config) picks one. The management SDKs get its
endpoint as ``base_url`` and ``credential_scopes``; azure-identity gets its authority host (the values of
``azure.identity.AzureAuthorityHosts``, written out so that registering the command imports no Azure SDK: the
container image has none of the deploy extra).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cloud:
    name: str
    resource_manager: str  # ARM endpoint, no trailing slash
    authority_host: str
    storage_suffix: str  # EndpointSuffix of a storage connection string
    cassandra_suffix: str  # Cosmos DB for Apache Cassandra contact point: <account>.<suffix>

    @property
    def credential_scopes(self) -> list[str]:
        return [f"{self.resource_manager}/.default"]


CLOUDS = {
    cloud.name: cloud
    for cloud in (
        Cloud("AzureCloud", "https://management.azure.com", "login.microsoftonline.com",
              "core.windows.net", "cassandra.cosmos.azure.com"),
        Cloud("AzureUSGovernment", "https://management.usgovcloudapi.net", "login.microsoftonline.us",
              "core.usgovcloudapi.net", "cassandra.cosmos.azure.us"),
        Cloud("AzureChinaCloud", "https://management.chinacloudapi.cn", "login.chinacloudapi.cn",
              "core.chinacloudapi.cn", "cassandra.cosmos.azure.cn"),
    )
}  # fmt: skip
ALIASES = {"AzurePublicCloud": "AzureCloud", "AzureGovernment": "AzureUSGovernment", "AzureChina": "AzureChinaCloud"}


def get_cloud(name: str) -> Cloud:
    name = ALIASES.get(name, name)
    if name not in CLOUDS:
        raise ValueError(f"unknown cloud {name!r}: one of {', '.join(CLOUDS)}")
    return CLOUDS[name]
