"""Every Azure resource the deployment has, in dependency order: its name, how to read, write and delete it.

Desired state is REST JSON (the ARM body, as the REST API reference documents it); the actual state is read
from Azure on every run, never from a local file, so an interrupted ``up`` simply continues. A desired body
may need another resource's actual state (the AKS kubelet identity for the registry's AcrPull assignment, the
OIDC issuer for the federated credentials): it raises :class:`NotYetKnown` until that resource exists.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orchestration_driver.arm import Clients, read_or_none
from orchestration_driver.config import DeployConfig

TAGS = {"app": "persona-pipeline", "managed-by": "persona-pipeline-driver"}
ROLE_ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
ROLE_NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
ROLE_KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
# Key Vault secret names the chart's SecretProviderClass reads (charts/persona-pipeline/values-aks.yaml)
SECRET_NAMES = ("cassandra-password", "azure-face-key", "azure-files-connection-string", "web-secret-key",
                "admin-password", "artifact-hmac-key", "redis-url", "redis-password", "flower-basic-auth")  # fmt: skip
VNET_SPACE, AKS_SUBNET, ENDPOINT_SUBNET = "10.20.0.0/16", "10.20.0.0/20", "10.20.16.0/24"


class NotYetKnown(Exception):
    """A desired body needs the actual state of a resource that does not exist yet."""


Actual = dict[str, dict]  # resource key -> its actual REST JSON (what exists now)


@dataclass
class Resource:
    key: str
    kind: str
    name: str
    id: str
    read: Callable[[Clients], dict | None]
    desired: Callable[[Actual], dict]
    write: Callable[[Clients, dict], Any]
    delete: Callable[[Clients], Any] | None = None  # None: deleted with its parent
    data: bool = False  # kept by `down --keep-data`
    secret: bool = False  # a Key Vault secret: its value is never read back, compared or printed
    ignore: tuple[str, ...] = ()  # dotted paths Azure does not return on read


def need(actual: Actual, key: str, *path: str) -> Any:
    node: Any = actual.get(key)
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    if node in (None, ""):
        raise NotYetKnown(f"{key}.{'.'.join(path)}")
    return node


def role_assignment_name(scope: str, principal: str, role: str) -> str:
    """A stable GUID per (scope, principal, role): writing it again is a no-op, never a duplicate."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scope.lower()}|{principal}|{role}"))


def build_resources(config: DeployConfig) -> list[Resource]:
    c, rg, loc = config, config.group, config.region
    sub = f"/subscriptions/{c.subscription_id}"
    rg_id = f"{sub}/resourceGroups/{rg}"
    names = {
        "identity": c.name("id"), "vnet": c.name("vnet"), "registry": c.name("acr", compact=True),
        "aks": c.name("aks"), "cosmos": c.name("cosmos"), "storage": c.name("blobs", compact=True),
        "face": c.name("face"), "redis": c.name("redis"), "vault": c.name("kv"),
    }  # fmt: skip
    provider_ids = {
        "identity": "Microsoft.ManagedIdentity/userAssignedIdentities", "vnet": "Microsoft.Network/virtualNetworks",
        "registry": "Microsoft.ContainerRegistry/registries", "aks": "Microsoft.ContainerService/managedClusters",
        "cosmos": "Microsoft.DocumentDB/databaseAccounts", "storage": "Microsoft.Storage/storageAccounts",
        "face": "Microsoft.CognitiveServices/accounts", "redis": "Microsoft.Cache/redisEnterprise",
        "vault": "Microsoft.KeyVault/vaults",
    }  # fmt: skip
    ids = {key: f"{rg_id}/providers/{provider_ids[key]}/{names[key]}" for key in names}
    subnet_id = f"{ids['vnet']}/subnets/aks"
    top = {"location": loc, "tags": TAGS}
    out: list[Resource] = []

    def add(key, kind, name, rid, read, desired, write, delete=None, **extra) -> None:
        out.append(Resource(key, kind, name, rid, read, desired, write, delete, **extra))

    add(
        "group",
        "resource group",
        rg,
        rg_id,
        lambda a: read_or_none(lambda: a.resources.resource_groups.get(rg)),
        lambda _: {"location": loc, "tags": TAGS},
        lambda a, body: a.resources.resource_groups.create_or_update(rg, body),
        lambda a: a.resources.resource_groups.begin_delete(rg),
    )
    add(
        "identity",
        "managed identity",
        names["identity"],
        ids["identity"],
        lambda a: read_or_none(lambda: a.msi.user_assigned_identities.get(rg, names["identity"])),
        lambda _: dict(top),
        lambda a, body: a.msi.user_assigned_identities.create_or_update(rg, names["identity"], body),
        lambda a: a.msi.user_assigned_identities.delete(rg, names["identity"]),
    )
    add(
        "vnet",
        "virtual network",
        names["vnet"],
        ids["vnet"],
        lambda a: read_or_none(lambda: a.network.virtual_networks.get(rg, names["vnet"])),
        lambda _: {
            **top,
            "properties": {
                "addressSpace": {"addressPrefixes": [VNET_SPACE]},
                "subnets": [
                    {"name": "aks", "properties": {"addressPrefix": AKS_SUBNET}},
                    {
                        "name": "endpoints",
                        "properties": {"addressPrefix": ENDPOINT_SUBNET, "privateEndpointNetworkPolicies": "Disabled"},
                    },
                ],
            },
        },
        lambda a, body: a.network.virtual_networks.begin_create_or_update(rg, names["vnet"], body),
        lambda a: a.network.virtual_networks.begin_delete(rg, names["vnet"]),
    )
    add(
        "registry",
        "container registry",
        names["registry"],
        ids["registry"],
        lambda a: read_or_none(lambda: a.registry.registries.get(rg, names["registry"])),
        lambda _: {**top, "sku": {"name": c.sizes.acr_sku}, "properties": {"adminUserEnabled": False}},
        lambda a, body: a.registry.registries.begin_create(rg, names["registry"], body),
        lambda a: a.registry.registries.begin_delete(rg, names["registry"]),
    )
    add(
        "aks",
        "AKS cluster",
        names["aks"],
        ids["aks"],
        lambda a: read_or_none(lambda: a.aks.managed_clusters.get(rg, names["aks"])),
        lambda _: {
            **top,
            "identity": {"type": "SystemAssigned"},
            "properties": {
                "dnsPrefix": names["aks"],
                "agentPoolProfiles": [
                    {
                        "name": "system",
                        "mode": "System",
                        "count": c.sizes.aks_node_count,
                        "vmSize": c.sizes.aks_vm_size,
                        "osType": "Linux",
                        "type": "VirtualMachineScaleSets",
                        "vnetSubnetID": subnet_id,
                    }
                ],
                "networkProfile": {"networkPlugin": "azure", "networkPluginMode": "overlay"},
                "oidcIssuerProfile": {"enabled": True},
                "securityProfile": {"workloadIdentity": {"enabled": True}},
                "workloadAutoScalerProfile": {"keda": {"enabled": True}},
                "addonProfiles": {
                    "azureKeyvaultSecretsProvider": {"enabled": True, "config": {"enableSecretRotation": "true"}}
                },
                "ingressProfile": {"webAppRouting": {"enabled": True}},
            },
        },
        lambda a, body: a.aks.managed_clusters.begin_create_or_update(rg, names["aks"], body),
        lambda a: a.aks.managed_clusters.begin_delete(rg, names["aks"]),
    )
    _role(
        add,
        c,
        "aks-subnet-role",
        "role assignment",
        "Network Contributor: AKS on its subnet",
        subnet_id,
        ROLE_NETWORK_CONTRIBUTOR,
        lambda actual: need(actual, "aks", "identity", "principalId"),
    )
    _role(
        add,
        c,
        "acr-pull-role",
        "role assignment",
        "AcrPull: AKS kubelet on the registry",
        ids["registry"],
        ROLE_ACR_PULL,
        lambda actual: need(actual, "aks", "properties", "identityProfile", "kubeletidentity", "objectId"),
    )
    add(
        "cosmos",
        "Cosmos DB account (Cassandra)",
        names["cosmos"],
        ids["cosmos"],
        lambda a: read_or_none(lambda: a.cosmos.database_accounts.get(rg, names["cosmos"])),
        lambda _: {
            **top,
            "kind": "GlobalDocumentDB",
            "properties": {
                "databaseAccountOfferType": "Standard",
                "capabilities": [{"name": "EnableCassandra"}],
                "locations": [{"locationName": loc, "failoverPriority": 0, "isZoneRedundant": False}],
                "consistencyPolicy": {"defaultConsistencyLevel": "Session"},
            },
        },
        lambda a, body: a.cosmos.database_accounts.begin_create_or_update(rg, names["cosmos"], body),
        lambda a: a.cosmos.database_accounts.begin_delete(rg, names["cosmos"]),
        data=True,
    )
    add(
        "keyspace",
        "Cassandra keyspace",
        c.keyspace,
        f"{ids['cosmos']}/cassandraKeyspaces/{c.keyspace}",
        lambda a: read_or_none(
            lambda: a.cosmos.cassandra_resources.get_cassandra_keyspace(rg, names["cosmos"], c.keyspace)
        ),
        lambda _: {
            "properties": {
                "resource": {"id": c.keyspace},
                "options": {"throughput": c.sizes.cosmos_keyspace_throughput},
            }
        },
        lambda a, body: a.cosmos.cassandra_resources.begin_create_update_cassandra_keyspace(
            rg, names["cosmos"], c.keyspace, body
        ),
        data=True,
        ignore=("properties.options",),
    )  # throughput is its own resource on read
    add(
        "storage",
        "storage account",
        names["storage"],
        ids["storage"],
        lambda a: read_or_none(lambda: a.storage.storage_accounts.get_properties(rg, names["storage"])),
        lambda _: {
            **top,
            "kind": "StorageV2",
            "sku": {"name": c.sizes.storage_sku},
            "properties": {
                "minimumTlsVersion": "TLS1_2",
                "allowBlobPublicAccess": False,
                "supportsHttpsTrafficOnly": True,
            },
        },
        lambda a, body: a.storage.storage_accounts.begin_create(rg, names["storage"], body),
        lambda a: a.storage.storage_accounts.delete(rg, names["storage"]),
        data=True,
    )
    shares = [c.share] + ([c.testdata.share] if c.parts.testdata else [])
    for share in shares:
        add(
            f"share:{share}",
            "file share",
            share,
            f"{ids['storage']}/fileServices/default/shares/{share}",
            lambda a, s=share: read_or_none(lambda: a.storage.file_shares.get(rg, names["storage"], s)),
            lambda _: {"properties": {"shareQuota": c.sizes.share_quota_gib}},
            lambda a, body, s=share: a.storage.file_shares.create(rg, names["storage"], s, body),
            data=True,
        )
    if c.parts.face:
        add(
            "face",
            "Face (Cognitive Services)",
            names["face"],
            ids["face"],
            lambda a: read_or_none(lambda: a.cognitive.accounts.get(rg, names["face"])),
            lambda _: {
                **top,
                "kind": "Face",
                "sku": {"name": c.sizes.face_sku},
                "properties": {"customSubDomainName": names["face"]},
            },
            lambda a, body: a.cognitive.accounts.begin_create(rg, names["face"], body),
            lambda a: a.cognitive.accounts.begin_delete(rg, names["face"]),
        )
    if c.parts.redis:
        add(
            "redis",
            "Azure Managed Redis",
            names["redis"],
            ids["redis"],
            lambda a: read_or_none(lambda: a.redis.redis_enterprise.get(rg, names["redis"])),
            lambda _: {
                **top,
                "sku": {"name": c.sizes.redis_sku},
                "properties": {"minimumTlsVersion": "1.2", "publicNetworkAccess": "Enabled"},
            },
            lambda a, body: a.redis.redis_enterprise.begin_create(rg, names["redis"], body),
            lambda a: a.redis.redis_enterprise.begin_delete(rg, names["redis"]),
        )
        # Celery (kombu) and KEDA's redis scaler need one non-clustered endpoint: NoCluster, never OSSCluster
        add(
            "redis-db",
            "Redis database",
            "default",
            f"{ids['redis']}/databases/default",
            lambda a: read_or_none(lambda: a.redis.databases.get(rg, names["redis"], "default")),
            lambda _: {
                "properties": {
                    "clientProtocol": "Encrypted",
                    "port": 10000,
                    "clusteringPolicy": "NoCluster",
                    "evictionPolicy": "NoEviction",
                    "accessKeysAuthentication": "Enabled",
                }
            },
            lambda a, body: a.redis.databases.begin_create(rg, names["redis"], "default", body),
        )
    add(
        "vault",
        "Key Vault",
        names["vault"],
        ids["vault"],
        lambda a: read_or_none(lambda: a.keyvault.vaults.get(rg, names["vault"])),
        lambda actual: {
            **top,
            "properties": {
                "tenantId": need(actual, "identity", "properties", "tenantId"),
                "sku": {"family": "A", "name": "standard"},
                "enableRbacAuthorization": True,
            },
        },
        lambda a, body: a.keyvault.vaults.begin_create_or_update(rg, names["vault"], body),
        lambda a: a.keyvault.vaults.delete(rg, names["vault"]),
    )
    _role(
        add,
        c,
        "vault-reader-role",
        "role assignment",
        "Key Vault Secrets User: identity on the vault",
        ids["vault"],
        ROLE_KEY_VAULT_SECRETS_USER,
        lambda actual: need(actual, "identity", "properties", "principalId"),
    )
    k8s = c.kubernetes
    for account in (k8s.service_account, f"{k8s.release}-persona-pipeline-migrate"):
        cred = f"fc-{account}"
        add(
            f"federation:{account}",
            "federated credential",
            cred,
            f"{ids['identity']}/federatedIdentityCredentials/{cred}",
            lambda a, n=cred: read_or_none(lambda: a.msi.federated_identity_credentials.get(rg, names["identity"], n)),
            lambda actual, sa=account: {
                "properties": {
                    "issuer": need(actual, "aks", "properties", "oidcIssuerProfile", "issuerURL"),
                    "subject": f"system:serviceaccount:{k8s.namespace}:{sa}",
                    "audiences": [TOKEN_EXCHANGE_AUDIENCE],
                }
            },
            lambda a, body, n=cred: a.msi.federated_identity_credentials.create_or_update(
                rg, names["identity"], n, body
            ),
        )
    for secret in SECRET_NAMES:
        add(
            f"secret:{secret}",
            "Key Vault secret",
            secret,
            f"{ids['vault']}/secrets/{secret}",
            lambda a, s=secret: read_or_none(lambda: a.keyvault.secrets.get(rg, names["vault"], s)),
            lambda _: {},
            lambda a, body, s=secret: a.keyvault.secrets.create_or_update(rg, names["vault"], s, body),
            secret=True,
        )
    return out


def _role(add: Callable, c: DeployConfig, key: str, kind: str, title: str, scope: str, role: str,
          principal: Callable[[Actual], str]) -> None:  # fmt: skip
    role_id = f"/subscriptions/{c.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role}"
    holder: dict[str, str] = {}

    def name_of(actual: Actual | None = None) -> str:
        if actual is not None:
            holder["name"] = role_assignment_name(scope, principal(actual), role)
        return holder.get("name", "")

    def read(a: Clients) -> dict | None:
        if not name_of():
            return None  # the principal does not exist yet, so neither can its assignment
        return read_or_none(lambda: a.authorization.role_assignments.get(scope, name_of()))

    def desired(actual: Actual) -> dict:
        name_of(actual)
        return {"properties": {"roleDefinitionId": role_id, "principalId": principal(actual),
                               "principalType": "ServicePrincipal"}}  # fmt: skip

    add(
        key,
        kind,
        title,
        f"{scope}/providers/Microsoft.Authorization/roleAssignments",
        read,
        desired,
        lambda a, body: a.authorization.role_assignments.create(scope, name_of(), body),
    )
