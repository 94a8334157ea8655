"""plan, up, down and status over the resource list: each reads Azure first and acts only on the difference.

``plan`` changes nothing; ``up`` writes in dependency order only what is missing, different or failed, so a
second run writes nothing and an interrupted run continues; ``down`` deletes the resource group (or, with
``keep_data``, everything but the Cosmos DB account and the storage account, and what lives in them), then
purges the soft-deleted Key Vault so that its name is free for the next ``up``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from orchestration_driver.arm import Clients, to_rest, wait
from orchestration_driver.config import DeployConfig
from orchestration_driver.resources import Actual, NotYetKnown, Resource, build_resources
from orchestration_driver.secrets import SecretUnavailable, secret_value

Say = Callable[[str], None]


@dataclass
class Step:
    resource: Resource
    action: str  # create | update | unchanged
    changes: list[str] = field(default_factory=list)
    note: str = ""

    def line(self) -> str:
        r = self.resource
        text = f"{self.action:<9} {r.kind} {r.name}"
        if self.note:
            text += f" ({self.note})"
        return "\n".join([text, *(f"            {change}" for change in self.changes)])


def _normal(path: str, value: Any) -> Any:
    if isinstance(value, str):
        if path.rsplit(".", 1)[-1] in ("location", "locationName"):
            return value.replace(" ", "").lower()  # Azure answers "West Europe" for "westeurope"
        if value.startswith("/subscriptions/"):
            return value.lower()  # resource ids are case-insensitive
    return value


def diff(want: Any, have: Any, path: str = "", ignore: tuple[str, ...] = ()) -> list[str]:
    """What ``have`` lacks of ``want`` (properties Azure adds are no difference), as 'path: have -> want'."""
    if path in ignore:
        return []
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return [f"{path}: {have!r} -> {want!r}"]
        return [line for key, value in want.items()
                for line in diff(value, have.get(key), f"{path}.{key}" if path else key, ignore)]  # fmt: skip
    if isinstance(want, list):
        if not isinstance(have, list) or len(have) != len(want):
            return [f"{path}: {have!r} -> {want!r}"]
        return [line for i, (w, h) in enumerate(zip(want, have, strict=True))
                for line in diff(w, h, f"{path}[{i}]", ignore)]  # fmt: skip
    return [] if _normal(path, want) == _normal(path, have) else [f"{path}: {have!r} -> {want!r}"]


def _state(have: dict) -> str:
    props = have.get("properties") or {}
    return str(props.get("provisioningState") or have.get("provisioningState") or "")


def _assess(resource: Resource, clients: Clients, actual: Actual) -> tuple[Step, dict | None]:
    try:
        body: dict | None = resource.desired(actual)
        waiting = ""
    except NotYetKnown as exc:
        body, waiting = None, f"needs {exc}"
    have = resource.read(clients)
    if have is not None:
        actual[resource.key] = have
    if have is None:
        return Step(resource, "create", note=waiting), body
    if _state(have).lower() in ("failed", "canceled"):
        return Step(resource, "update", note=f"provisioning state {_state(have)}"), body
    if resource.secret:
        return Step(resource, "unchanged", note="value not compared"), body
    if body is None:
        return Step(resource, "update", note=waiting), body
    changes = diff(body, have, ignore=resource.ignore)
    return Step(resource, "update" if changes else "unchanged", changes), body


def plan(config: DeployConfig, clients: Clients, say: Say = print) -> list[Step]:
    actual: Actual = {}
    steps = []
    for resource in build_resources(config):
        step, _ = _assess(resource, clients, actual)
        steps.append(step)
        say(step.line())
    counts = {a: sum(1 for s in steps if s.action == a) for a in ("create", "update", "unchanged")}
    say(f"plan: {counts['create']} to create, {counts['update']} to update, {counts['unchanged']} unchanged")
    return steps


class UpFailed(Exception):
    pass


def up(config: DeployConfig, clients: Clients, say: Say = print) -> Actual:
    """Create or update every resource in order; raises :class:`UpFailed` naming the step that failed."""
    actual: Actual = {}
    resources = build_resources(config)
    written = 0
    for number, resource in enumerate(resources, 1):
        label = f"[{number}/{len(resources)}] {resource.kind} {resource.name}"
        step, body = _assess(resource, clients, actual)
        if step.action == "unchanged":
            say(f"{label}: unchanged")
            continue
        try:
            if resource.secret:
                body = {"properties": {"value": secret_value(resource.name, config, clients, actual)}}
            elif body is None:
                raise UpFailed(f"{label}: {step.note} (a dependency did not come up)")
            say(f"{label}: {step.action}" + "".join(f"\n    {change}" for change in step.changes))
            result = wait(resource.write(clients, body), label, say, clients.poll_seconds)
        except SecretUnavailable as exc:
            say(f"{label}: skipped: {exc}")
            continue
        except HttpResponseError as exc:
            code = getattr(exc.error, "code", None) or exc.status_code
            message = _first_line(getattr(exc.error, "message", None) or exc.message)
            raise UpFailed(f"{label} failed: {code}: {message}; run `up` again to continue") from None
        written += 1
        if not resource.secret:
            actual[resource.key] = resource.read(clients) or to_rest(result)
        say(f"{label}: done")
    say(f"up: {written} written, {len(resources) - written} unchanged")
    return actual


def _first_line(message: str | None) -> str:
    return (message or "").strip().splitlines()[0] if message else ""


def down(config: DeployConfig, clients: Clients, keep_data: bool = False, say: Say = print) -> int:
    """Delete what ``up`` made; returns how many delete operations ran."""
    resources = build_resources(config)
    if not keep_data:
        group = resources[0]
        if group.read(clients) is None:
            say(f"resource group {group.name} does not exist: nothing to delete")
            return 0
        say(f"deleting resource group {group.name} and everything in it")
        wait(group.delete(clients), f"resource group {group.name}", say, clients.poll_seconds)
        _purge_vault(config, clients, resources, say)
        say("down: done")
        return 1
    deleted = 0
    for resource in reversed(resources):
        if resource.data or resource.delete is None or resource.key == "group":
            continue
        if resource.read(clients) is None:
            continue
        say(f"deleting {resource.kind} {resource.name}")
        wait(resource.delete(clients), f"{resource.kind} {resource.name}", say, clients.poll_seconds)
        deleted += 1
    _purge_vault(config, clients, resources, say)
    kept = [f"{r.kind} {r.name}" for r in resources if r.data]
    say(f"down: {deleted} deleted; kept {', '.join(kept)} and resource group {config.group}")
    return deleted


def _purge_vault(config: DeployConfig, clients: Clients, resources: list[Resource], say: Say) -> None:
    """A deleted Key Vault is only soft-deleted and keeps its name: purge it, so the next ``up`` can create it."""
    vault = next(r.name for r in resources if r.key == "vault")
    try:
        clients.keyvault.vaults.get_deleted(vault, config.region)
    except ResourceNotFoundError:
        return
    say(f"purging the soft-deleted Key Vault {vault}")
    try:
        wait(clients.keyvault.vaults.begin_purge_deleted(vault, config.region), f"Key Vault {vault}", say,
             clients.poll_seconds)  # fmt: skip
    except HttpResponseError as exc:  # e.g. no purge permission on the subscription: the rest is gone anyway
        code = getattr(exc.error, "code", None) or exc.status_code
        say(f"could not purge Key Vault {vault} ({code}); before the next up: az keyvault purge --name {vault}")


def status(config: DeployConfig, clients: Clients, say: Say = print) -> dict[str, str]:
    states: dict[str, str] = {}
    for resource in build_resources(config):
        if resource.key.endswith("-role"):
            continue  # an assignment's name needs its principal: `plan` shows them
        have = resource.read(clients)
        states[resource.key] = "missing" if have is None else (_state(have) or "present")
        say(f"{states[resource.key]:<10} {resource.kind} {resource.name}")
    return states
