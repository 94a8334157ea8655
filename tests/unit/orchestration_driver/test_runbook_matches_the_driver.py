"""The manual `az` runbook in docs/deploy-aks.md and the driver describe the same deployment.

The runbook is the operator's alternative to `deploy azure up`: its names, sizes, features and Key Vault
secrets are read out of the document and compared with what the driver builds from the example config, so
a change to one without the other fails here.
"""

from __future__ import annotations

import re

from orchestration_driver.chart import ROOT
from orchestration_driver.config import load_config
from orchestration_driver.resources import SECRET_NAMES, build_resources

DOC = (ROOT / "docs" / "deploy-aks.md").read_text()
RUNBOOK = DOC[DOC.index("## AKS") :]
CONFIG = load_config(ROOT / "deploy" / "azure.example.toml")
NAMES = {r.key: r.name for r in build_resources(CONFIG)}


def exported() -> dict[str, str]:
    block = RUNBOOK[RUNBOOK.index("### 1. Names") : RUNBOOK.index("### 2.")]
    return dict(re.findall(r"\b([A-Z]+)=([\w-]+)", block))


def test_the_runbook_uses_the_drivers_names():
    names = exported()
    assert names["RG"] == CONFIG.group and names["LOCATION"] == CONFIG.region
    for variable, key in {"AKS": "aks", "ACR": "registry", "COSMOS": "cosmos", "FACE": "face", "STORAGE": "storage",
                          "REDIS": "redis", "KV": "vault", "IDENTITY": "identity"}.items():  # fmt: skip
        assert names[variable] == NAMES[key], variable
    assert names["SHARE"] == CONFIG.share
    assert (names["NS"], names["RELEASE"]) == (CONFIG.kubernetes.namespace, CONFIG.kubernetes.release)


def test_the_runbook_uses_the_drivers_sizes_and_features():
    sizes = CONFIG.sizes
    expected = [
        f"--node-count {sizes.aks_node_count} --node-vm-size {sizes.aks_vm_size}",
        f'az acr create -g "$RG" -n "$ACR" --sku {sizes.acr_sku}',
        "--enable-keda", "--enable-addons azure-keyvault-secrets-provider",
        "--enable-oidc-issuer --enable-workload-identity", '--attach-acr "$ACR"', "az aks approuting enable",
        "--capabilities EnableCassandra", f"--name {CONFIG.keyspace} --throughput {sizes.cosmos_keyspace_throughput}",
        f"--kind Face --sku {sizes.face_sku}", f"--sku {sizes.storage_sku} --kind StorageV2 --min-tls-version TLS1_2",
        f'--name "$SHARE" --quota {sizes.share_quota_gib}', f"--sku {sizes.redis_sku}",
        "--clustering-policy NoCluster", "--client-protocol Encrypted", "--port 10000",
        "--enable-rbac-authorization true", '--role "Key Vault Secrets User"',
        "--audience api://AzureADTokenExchange",
        f'for SA in {CONFIG.kubernetes.service_account} "$RELEASE-persona-pipeline-migrate"',
    ]  # fmt: skip
    missing = [phrase for phrase in expected if phrase not in RUNBOOK]
    assert not missing, f"docs/deploy-aks.md's runbook no longer says: {missing}"


def test_the_runbook_sets_every_key_vault_secret_the_driver_writes():
    assert sorted(re.findall(r"^set_secret ([a-z-]+) ", RUNBOOK, re.MULTILINE)) == sorted(SECRET_NAMES)


def test_the_driver_section_lists_every_step():
    section = DOC[DOC.index("## Deploy with the driver") : DOC.index("## AKS")]
    assert f"| 19\u2013{len(NAMES)} | Key Vault secrets |" in section  # an en dash, as the table writes ranges
    assert "the nine the chart's SecretProviderClass reads" in section and len(SECRET_NAMES) == 9
