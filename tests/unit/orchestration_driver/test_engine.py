"""plan / up / down / status: the driver's real code and SDKs against the local resource manager."""

from __future__ import annotations

import pytest

from orchestration_driver import engine
from orchestration_driver.resources import build_resources
from tests.support.fake_arm import FakeArm
from tests.unit.orchestration_driver.conftest import make_clients, make_config


def writes(arm: FakeArm) -> list[tuple[str, str]]:
    return [(method, path) for method, path in arm.state.requests if method in ("PUT", "PATCH", "POST", "DELETE")
            and not path.lower().endswith(("/listkeys", "/listclusterusercredential"))]  # fmt: skip


def test_plan_on_an_empty_subscription_creates_everything_and_changes_nothing(arm, config, clients):
    lines: list[str] = []
    steps = engine.plan(config, clients, lines.append)
    assert [s.resource.key for s in steps] == [r.key for r in build_resources(config)]
    assert {s.action for s in steps} == {"create"}
    kinds = ("resource group", "virtual network", "container registry", "AKS cluster", "Cosmos DB account",
             "Cassandra keyspace", "storage account", "file share", "Face", "Azure Managed Redis", "Key Vault",
             "managed identity", "federated credential", "role assignment", "Key Vault secret")  # fmt: skip
    for kind in kinds:
        assert any(line.startswith("create") and kind in line for line in lines), kind
    assert lines[-1] == f"plan: {len(steps)} to create, 0 to update, 0 unchanged"
    assert writes(arm) == []


def test_up_twice_the_second_run_changes_nothing(arm, config, clients):
    engine.up(config, clients, lambda _: None)
    made = arm.state.ids()
    before = len(arm.state.requests)
    lines: list[str] = []
    engine.up(config, clients, lines.append)
    assert [m for m, _ in arm.state.requests[before:] if m != "GET"] == []
    assert arm.state.ids() == made
    assert lines[-1] == f"up: 0 written, {len(build_resources(config))} unchanged"
    assert {s.action for s in engine.plan(config, clients, lambda _: None)} == {"unchanged"}


def test_up_creates_the_documented_shape(arm, config, clients):
    engine.up(config, clients, lambda _: None)
    group = f"/subscriptions/{config.subscription_id}/resourcegroups/pptest-rg"
    aks = arm.state.resources[f"{group}/providers/microsoft.containerservice/managedclusters/pptest-aks"]
    props = aks["properties"]
    assert props["workloadAutoScalerProfile"]["keda"]["enabled"] is True
    assert props["securityProfile"]["workloadIdentity"]["enabled"] is True and props["oidcIssuerProfile"]["enabled"]
    assert props["agentPoolProfiles"][0]["vnetSubnetID"].endswith("/virtualNetworks/pptest-vnet/subnets/aks")
    redis_db = arm.state.resources[f"{group}/providers/microsoft.cache/redisenterprise/pptest-redis/databases/default"]
    assert redis_db["properties"]["clusteringPolicy"] == "NoCluster"
    face = arm.state.resources[f"{group}/providers/microsoft.cognitiveservices/accounts/pptest-face"]
    assert (face["kind"], face["sku"]["name"]) == ("Face", "S0")
    roles = [rid for rid in arm.state.ids() if "/roleassignments/" in rid]
    acr_pull = [arm.state.resources[r] for r in roles if "/registries/pptestacr/" in r]
    kubelet = props["identityProfile"]["kubeletidentity"]["objectId"]
    assert [r["properties"]["principalId"] for r in acr_pull] == [kubelet]
    subjects = sorted(r["properties"]["subject"] for rid, r in arm.state.resources.items()
                      if "/federatedidentitycredentials/" in rid)  # fmt: skip
    assert subjects == ["system:serviceaccount:persona:persona-persona-pipeline-migrate",
                        "system:serviceaccount:persona:persona-pipeline"]  # fmt: skip
    assert len(arm.state.secret_values) == 9


def test_an_up_failed_midway_then_run_again_completes_with_no_duplicate(arm, config, clients):
    arm.state.fail_next.add("managedclusters")
    lines: list[str] = []
    with pytest.raises(engine.UpFailed, match=r"\[5/27\] AKS cluster pptest-aks failed: InjectedFailure"):
        engine.up(config, clients, lines.append)
    assert not any("/databaseaccounts/" in rid for rid in arm.state.ids())  # stopped at step 5
    plan = {s.resource.key: s for s in engine.plan(config, clients, lambda _: None)}
    assert plan["group"].action == "unchanged" and plan["aks"].action == "update"
    assert "Failed" in plan["aks"].note
    engine.up(config, clients, lambda _: None)
    resumed = arm.state.ids()
    with FakeArm() as clean_arm:
        clean_clients = make_clients(clean_arm, config)
        engine.up(config, clean_clients, lambda _: None)
        clean_clients.close()
        assert resumed == clean_arm.state.ids()
    roles = [rid for rid in resumed if "/roleassignments/" in rid]
    assert len(roles) == 3
    assert {s.action for s in engine.plan(config, clients, lambda _: None)} == {"unchanged"}


def test_throttling_is_retried_after_the_servers_delay(arm, config, clients):
    arm.state.throttle["/databaseAccounts/pptest-cosmos"] = 1
    engine.up(config, clients, lambda _: None)
    assert arm.state.throttle["/databaseAccounts/pptest-cosmos"] == 0
    assert any(rid.rsplit("/providers/microsoft.documentdb", 1)[-1] == "/databaseaccounts/pptest-cosmos"
               for rid in arm.state.ids())  # fmt: skip


def test_a_name_taken_elsewhere_stops_up_with_the_conflict(arm, config, clients):
    arm.state.taken.add("pptest-kv")
    with pytest.raises(engine.UpFailed, match=r"Key Vault pptest-kv failed: Conflict: .*already in use"):
        engine.up(config, clients, lambda _: None)


def test_down_removes_everything_up_made_and_nothing_else(arm, config, clients):
    other = f"/subscriptions/{config.subscription_id}/resourceGroups/other-team-rg"
    arm.seed(other, {"location": "westeurope"})
    arm.seed(f"{other}/providers/Microsoft.Storage/storageAccounts/otherteam", {"location": "westeurope"})
    before = arm.state.ids()
    engine.up(config, clients, lambda _: None)
    assert len(arm.state.ids() - before) > 20
    engine.down(config, clients, say=lambda _: None)
    assert arm.state.ids() == before
    assert engine.down(config, clients, say=lambda _: None) == 0  # nothing left to delete


def test_down_keep_data_keeps_cosmos_and_storage(arm, config, clients):
    engine.up(config, clients, lambda _: None)
    engine.down(config, clients, keep_data=True, say=lambda _: None)
    kinds = {rid.split("/providers/", 1)[-1].split("/")[1] for rid in arm.state.ids() if "/providers/" in rid}
    assert kinds == {"databaseaccounts", "storageaccounts"}
    left = sorted(rid.rsplit("/", 1)[-1] for rid in arm.state.ids())
    assert {"pptest-cosmos", "persona_pipeline", "pptestblobs", "persona-pipeline", "pptest-rg"} == set(left)
    assert {s.resource.key for s in engine.plan(config, clients, lambda _: None) if s.action == "unchanged"} == {
        "group", "cosmos", "keyspace", "storage", "share:persona-pipeline"}  # fmt: skip


def test_status_reports_every_resource(arm, config, clients):
    lines: list[str] = []
    assert set(engine.status(config, clients, lines.append).values()) == {"missing"}
    engine.up(config, clients, lambda _: None)
    states = engine.status(config, clients, lines.append)
    assert set(states.values()) <= {"Succeeded", "present"}  # "present": a type with no provisioning state
    assert states["aks"] == states["cosmos"] == "Succeeded"
    assert any(line.startswith("Succeeded") and "AKS cluster pptest-aks" in line for line in lines)


def test_long_running_operations_show_progress(arm, config, clients):
    arm.state.polls_per_operation = 12
    lines: list[str] = []
    engine.up(config, clients, lines.append)
    progress = [line for line in lines if line.startswith("  [5/27] AKS cluster pptest-aks: InProgress (")]
    assert progress, "no progress line while the AKS cluster was being created"


def test_a_changed_size_is_planned_as_an_update_with_the_difference(arm, config, clients):
    engine.up(config, clients, lambda _: None)
    bigger = make_config(sizes={"aks_node_count": 5})
    lines: list[str] = []
    steps = {s.resource.key: s for s in engine.plan(bigger, clients, lines.append)}
    assert steps["aks"].action == "update"
    assert steps["aks"].changes == ["properties.agentPoolProfiles[0].count: 3 -> 5"]
    assert "update    AKS cluster pptest-aks\n            properties.agentPoolProfiles[0].count: 3 -> 5" in lines
    assert [k for k, s in steps.items() if s.action != "unchanged"] == ["aks"]
    engine.up(bigger, clients, lambda _: None)
    assert {s.action for s in engine.plan(bigger, clients, lambda _: None)} == {"unchanged"}


def test_up_after_down_starts_afresh_because_down_purged_the_vault(arm, config, clients):
    engine.up(config, clients, lambda _: None)
    first_password = arm.state.secret_values[next(k for k in arm.state.secret_values if k.endswith("/admin-password"))]
    lines: list[str] = []
    engine.down(config, clients, say=lines.append)
    assert "purging the soft-deleted Key Vault pptest-kv" in lines and arm.state.deleted_vaults == {}
    engine.up(config, clients, lambda _: None)
    second_password = arm.state.secret_values[next(k for k in arm.state.secret_values if k.endswith("/admin-password"))]
    assert second_password != first_password  # a new deployment, new generated secrets


def test_a_soft_deleted_vault_blocks_up_with_azures_conflict(arm, config, clients):
    arm.state.deleted_vaults["pptest-kv"] = "westeurope"  # deleted by hand, not purged
    with pytest.raises(engine.UpFailed, match=r"Key Vault pptest-kv failed: ConflictError: .*deleted state"):
        engine.up(config, clients, lambda _: None)
