"""``persona-pipeline deploy azure plan|up|status|down`` and ``persona-pipeline testdata upload``.

Registered through the ``persona_pipeline.commands`` entry point (pyproject.toml). Credentials come from
azure-identity's DefaultAzureCredential (environment, workload identity or ``az login``) on the config's
cloud; nothing here prints a key or a password.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

from azure.core.exceptions import ClientAuthenticationError
from azure.storage.fileshare import ShareClient

from orchestration_driver import engine
from orchestration_driver.arm import Clients, to_rest
from orchestration_driver.chart import ROOT, Helm, deploy_chart, release_status, subprocess_helm
from orchestration_driver.config import DeployConfig, load_config
from orchestration_driver.image_build import BuildFailed, build_image, latest_digest
from orchestration_driver.resources import build_resources
from orchestration_driver.testdata import parse_destination, upload_folder

ACTIONS = ("plan", "up", "status", "down")


def register(subparsers) -> None:
    p = subparsers.add_parser("deploy", help="provision Azure and deploy the chart (plan, up, status, down)")
    targets = p.add_subparsers(dest="target", required=True)
    az = targets.add_parser("azure", help="Azure: resource group, AKS, Cosmos DB, storage, Face, Redis, Key Vault")
    az.add_argument("action", choices=ACTIONS)
    az.add_argument("--config", type=Path, default=Path("deploy/azure.toml"), help="the deployment's TOML file")
    az.add_argument("--cloud", help="AzureCloud, AzureUSGovernment or AzureChinaCloud (overrides the config)")
    az.add_argument("--with-testdata", action="store_true", help="up: also upload the [testdata] folder")
    az.add_argument("--skip-build", action="store_true", help="up: deploy the image tag already in the registry")
    az.add_argument("--source", type=Path, default=Path("."), help="up: the build context (this repository)")
    az.add_argument("--skip-chart", action="store_true", help="up: Azure resources (and image) only, no helm")
    az.add_argument("--helm", default="helm", help="up: the helm binary")
    az.add_argument("--keep-data", action="store_true", help="down: keep the Cosmos DB and storage accounts")
    az.add_argument("--yes", action="store_true", help="down: do not ask for the resource group's name")
    p.set_defaults(func=cmd_deploy)

    p = subparsers.add_parser("testdata", help="put a labeled folder on an Azure Files share")
    actions = p.add_subparsers(dest="testdata_action", required=True)
    up = actions.add_parser("upload", help="upload FOLDER to azurefiles://<share>/<dir>")
    up.add_argument("destination", help="azurefiles://<share>/<dir>")
    up.add_argument("folder", type=Path, nargs="?", default=Path("../shared/datasets/faces-small"))
    p.set_defaults(func=cmd_testdata)


def make_clients(config: DeployConfig) -> Clients:
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential(authority=config.cloud.authority_host)
    return Clients(credential, config.subscription_id, config.cloud, poll_seconds=config.poll_seconds)


def cmd_deploy(args: argparse.Namespace) -> int:
    logging.getLogger("azure").setLevel(logging.WARNING)  # request lines at INFO would drown the progress
    config = load_config(args.config, args.cloud)
    clients = make_clients(config)
    try:
        return run_action(args, config, clients)
    except ClientAuthenticationError as exc:
        hint = "sign in with `az login`, or set AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_CLIENT_SECRET"
        print(f"no Azure credentials: {_first_line(exc.message)}\n{hint}", file=sys.stderr)
        return 2
    finally:
        clients.close()


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if text and text.strip() else ""


def run_action(
    args: argparse.Namespace,
    config: DeployConfig,
    clients: Clients,
    helm: Helm | None = None,
    say: Callable[[str], None] = print,
    share_for: Callable[[str], ShareClient] | None = None,
) -> int:
    """One action; tests pass their own helm (to capture its arguments) and share client factory."""
    if args.with_testdata:  # the test-data share is part of the plan from now on
        config = dataclasses.replace(config, parts=dataclasses.replace(config.parts, testdata=True))
    if args.action == "plan":
        engine.plan(config, clients, say)
        return 0
    if args.action == "status":
        states = engine.status(config, clients, say)
        names = {r.key: r.name for r in build_resources(config)}
        if states.get("registry") not in (None, "missing"):
            say(f"image: {latest_digest(config, clients, names['registry']) or 'never built by the driver'}")
        if states.get("aks") not in (None, "missing"):
            release_status(config, clients, names["aks"], helm or subprocess_helm(args.helm))
        say(f"healthz https://{config.kubernetes.ingress_host}/healthz: {healthz(config.kubernetes.ingress_host)}")
        return 0 if all(s.lower() == "succeeded" for s in states.values() if s != "present") else 1
    if args.action == "down":
        if not args.yes and not _confirmed(config.group):
            say("not confirmed: nothing deleted")
            return 1
        engine.down(config, clients, keep_data=args.keep_data, say=say)
        return 0
    try:
        actual = engine.up(config, clients, say)
    except engine.UpFailed as exc:
        say(str(exc))
        return 1
    if args.with_testdata:
        share_name = config.testdata.share
        share = share_for(share_name) if share_for else _share_client(config, clients, actual, share_name)
        upload_folder(share, config.testdata.directory, Path(config.testdata.folder), say)
    digest = ""
    if not args.skip_build:
        try:
            digest = build_image(config, clients, actual, getattr(args, "source", ROOT), say)
        except BuildFailed as exc:
            say(str(exc))
            return 1
    if args.skip_chart:
        return 0
    return deploy_chart(config, clients, actual, helm or subprocess_helm(args.helm), say, digest)


def _confirmed(group: str) -> bool:
    answer = input(f"delete resource group {group} and everything in it? type its name: ")
    return answer.strip() == group


def _share_client(config: DeployConfig, clients: Clients, actual: dict, share: str) -> ShareClient:
    account = actual["storage"]["name"]
    key = to_rest(clients.storage.storage_accounts.list_keys(config.group, account))["keys"][0]["value"]
    url = f"https://{account}.file.{config.cloud.storage_suffix}"
    return ShareClient(url, share_name=share, credential={"account_name": account, "account_key": key})


def healthz(host: str, timeout: float = 10.0) -> str:
    try:
        with urllib.request.urlopen(f"https://{host}/healthz", timeout=timeout) as response:
            return f"{response.status}"
    except Exception as exc:  # reported, not raised: status shows every part it can
        return f"unreachable ({type(exc).__name__})"


def cmd_testdata(args: argparse.Namespace) -> int:
    share_name, directory = parse_destination(args.destination)
    conn = os.environ.get("PP_AZURE_FILES_CONNECTION_STRING")
    if not conn:
        print("testdata upload needs PP_AZURE_FILES_CONNECTION_STRING (the storage account's)", file=sys.stderr)
        return 2
    upload_folder(ShareClient.from_connection_string(conn, share_name=share_name), directory, args.folder)
    return 0
