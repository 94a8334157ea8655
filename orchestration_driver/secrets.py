"""The values of the Key Vault secrets: generated once, or read from the service that owns the key.

A value exists only in memory between the service's ``listKeys`` answer and the Key Vault PUT: it is never
printed, logged, written to a file or passed to helm (the pods read it through the CSI driver). Generated
secrets are written only when the vault does not have them yet, so a second ``up`` keeps the admin password.
"""

from __future__ import annotations

import secrets as random
from urllib.parse import quote

from orchestration_driver.arm import Clients, to_rest
from orchestration_driver.config import DeployConfig
from orchestration_driver.resources import Actual


class SecretUnavailable(Exception):
    """The part that owns this key is not deployed (e.g. ``parts.redis = false``): the operator sets it."""


def secret_value(name: str, config: DeployConfig, clients: Clients, actual: Actual) -> str:
    rg = config.group
    if name == "web-secret-key" or name == "artifact-hmac-key":
        return random.token_hex(32)
    if name == "admin-password":
        return random.token_urlsafe(18)
    if name == "flower-basic-auth":
        return f"ops:{random.token_hex(16)}"
    if name == "cassandra-password":
        return clients.cosmos.database_accounts.list_keys(rg, actual["cosmos"]["name"]).primary_master_key
    if name == "azure-files-connection-string":
        account = actual["storage"]["name"]
        key = to_rest(clients.storage.storage_accounts.list_keys(rg, account))["keys"][0]["value"]
        return (f"DefaultEndpointsProtocol=https;AccountName={account};AccountKey={key};"
                f"EndpointSuffix={config.cloud.storage_suffix}")  # fmt: skip
    if name == "azure-face-key":
        if "face" not in actual:
            return "unused"  # the pods detect with dlib; the CSI driver still needs every object to exist
        return clients.cognitive.accounts.list_keys(rg, actual["face"]["name"]).key1
    if name in ("redis-url", "redis-password"):
        if "redis" not in actual:
            raise SecretUnavailable(f"{name}: parts.redis is off; set this Key Vault secret to your broker's")
        key = clients.redis.databases.list_keys(rg, actual["redis"]["name"], "default").primary_key
        if name == "redis-password":
            return key
        return f"rediss://:{quote(key, safe='')}@{actual['redis']['properties']['hostName']}:10000/0"
    raise KeyError(name)
