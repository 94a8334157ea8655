"""Management SDK clients for one subscription and cloud, and the two things every step needs from them.

:class:`Clients` builds each SDK client on first use with the cloud's ``base_url`` and ``credential_scopes``
(tests add ``connection_verify`` for their local resource manager). :func:`to_rest` turns any SDK model into
its REST JSON, so desired and actual state compare in one shape; :func:`wait` polls a long-running operation
and prints a progress line while it runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import ResourceNotFoundError
from azure.core.polling import LROPoller

from orchestration_driver.clouds import Cloud


def _sdk(name: str) -> type:
    """Imported when first used: a plan that never touches Redis never loads its SDK."""
    module, _, cls = {
        "resources": "azure.mgmt.resource.resources:ResourceManagementClient",
        "network": "azure.mgmt.network:NetworkManagementClient",
        "registry": "azure.mgmt.containerregistry:ContainerRegistryManagementClient",
        "tasks": "azure.mgmt.containerregistrytasks:ContainerRegistryTasksMgmtClient",  # ACR Tasks (image build)
        "aks": "azure.mgmt.containerservice:ContainerServiceClient",
        "cosmos": "azure.mgmt.cosmosdb:CosmosDBManagementClient",
        "storage": "azure.mgmt.storage:StorageManagementClient",
        "cognitive": "azure.mgmt.cognitiveservices:CognitiveServicesManagementClient",
        "redis": "azure.mgmt.redisenterprise:RedisEnterpriseManagementClient",
        "keyvault": "azure.mgmt.keyvault:KeyVaultManagementClient",
        "msi": "azure.mgmt.msi:ManagedServiceIdentityClient",
        "authorization": "azure.mgmt.authorization:AuthorizationManagementClient",
    }[name].partition(":")
    return getattr(__import__(module, fromlist=[cls]), cls)


@dataclass
class Clients:
    credential: TokenCredential
    subscription_id: str
    cloud: Cloud
    base_url: str = ""  # default: the cloud's resource manager
    poll_seconds: float = 10.0
    client_options: dict[str, Any] = field(default_factory=dict)  # e.g. connection_verify (tests)
    _made: dict[str, Any] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return self.base_url or self.cloud.resource_manager

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._made:
            self._made[name] = _sdk(name)(
                self.credential,
                self.subscription_id,
                base_url=self.endpoint,
                credential_scopes=self.cloud.credential_scopes,
                polling_interval=self.poll_seconds,
                **self.client_options,
            )
        return self._made[name]

    def close(self) -> None:
        for client in self._made.values():
            client.close()
        self._made.clear()


def to_rest(model: Any) -> dict:
    """REST JSON of an SDK model (TypeSpec models are mappings already; msrest ones serialize)."""
    if model is None:
        return {}
    if isinstance(model, MutableMapping):
        return dict(model.as_dict()) if hasattr(model, "as_dict") else dict(model)
    return model.serialize(keep_readonly=True)


def read_or_none(getter: Callable[[], Any]) -> dict | None:
    try:
        return to_rest(getter())
    except ResourceNotFoundError:
        return None


def wait(result: Any, label: str, say: Callable[[str], None], poll_seconds: float) -> Any:
    """The result of ``result`` (an LROPoller or a plain response), printing a progress line every third poll."""
    if not isinstance(result, LROPoller):
        return result
    started = time.monotonic()
    polls = 0
    while not result.done():
        result.wait(timeout=poll_seconds)
        polls += 1
        if not result.done() and polls % 3 == 0:
            say(f"  {label}: {result.status()} ({time.monotonic() - started:.0f} s)")
    return result.result()
