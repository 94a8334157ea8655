"""The commands as an operator runs them: up with test data and the chart, down's confirmation, no secret shown."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from azure.storage.fileshare import ShareClient

from orchestration_driver import cli
from orchestration_driver.chart import AKS_VALUES, CHART, ROOT
from tests.support.azure_files_server import AzureFilesServer
from tests.support.fake_arm import KEYS
from tests.unit.orchestration_driver.conftest import make_config


def args(action: str, **options) -> argparse.Namespace:
    defaults = {"with_testdata": False, "skip_build": True, "skip_chart": False, "keep_data": False, "yes": False}
    return argparse.Namespace(action=action, **{**defaults, **options})


class RecordingHelm:
    """Stands in for the helm binary: keeps each argument list and the values file helm was given."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.values: list[str] = []

    def __call__(self, argv) -> int:
        self.calls.append(list(argv))
        files = [argv[i + 1] for i, a in enumerate(argv) if a == "-f"]
        self.values += [Path(f).read_text() for f in files if "generated" in f]
        return 0


def faces_folder(root: Path) -> Path:
    for persona in ("alice", "bob"):
        (root / persona).mkdir(parents=True)
        for n in range(2):
            (root / persona / f"{n}.jpg").write_bytes(b"\xff\xd8\xff" + bytes([n]) * 64)
    (root / "notes.txt").write_text("not an image")
    return root


def test_up_with_testdata_and_chart_never_shows_a_secret(arm, clients, tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    folder = faces_folder(tmp_path / "faces")
    config = make_config(testdata={"folder": str(folder), "directory": "faces-small"})
    helm, lines = RecordingHelm(), []
    with AzureFilesServer() as files:

        def share_for(name):
            return ShareClient.from_connection_string(files.connection_string, share_name=name)

        code = cli.run_action(args("up", with_testdata=True, skip_build=False), config, clients, helm, lines.append,
                              share_for)  # fmt: skip
        assert code == 0
        assert sorted(files.state.files) == ["faces-small/alice/0.jpg", "faces-small/alice/1.jpg",
                                             "faces-small/bob/0.jpg", "faces-small/bob/1.jpg"]  # fmt: skip
    assert any(rid.endswith("/shares/testdata") for rid in arm.state.ids())
    [call] = helm.calls
    assert call[:4] == ["upgrade", "--install", "persona", str(CHART)]
    assert call[call.index("-f") + 1] == str(AKS_VALUES) and "--kubeconfig" in call
    assert not any(a in ("--set", "--set-string", "--set-file") for a in call)
    [run] = [r for rid, r in arm.state.resources.items() if "/runs/" in rid]
    assert f"digest: {run['properties']['outputImages'][0]['digest']}" in helm.values[0]  # the image just built
    secrets = [*KEYS.values(), *arm.state.secret_values.values()]
    assert len(arm.state.secret_values) == 9
    shown = "\n".join([*lines, caplog.text, capsys.readouterr().out, *helm.values, " ".join(call)])
    leaked = [s for s in secrets for part in s.split(":") if len(part) >= 8 and part in shown]
    assert not leaked, "a secret reached a log line, the output or helm"


def test_down_needs_the_typed_group_name_or_yes(arm, config, clients, monkeypatch):
    cli.run_action(args("up", skip_chart=True), config, clients, say=lambda _: None)
    made = arm.state.ids()
    monkeypatch.setattr("builtins.input", lambda prompt: "pptest")
    assert cli.run_action(args("down"), config, clients, say=lambda _: None) == 1
    assert arm.state.ids() == made
    monkeypatch.setattr("builtins.input", lambda prompt: "pptest-rg")
    assert cli.run_action(args("down"), config, clients, say=lambda _: None) == 0
    assert arm.state.ids() == set()


def test_a_failed_up_exits_non_zero_naming_the_step(arm, config, clients):
    arm.state.fail_next.add("databaseaccounts")
    lines: list[str] = []
    assert cli.run_action(args("up", skip_chart=True), config, clients, say=lambda line: lines.append(line)) == 1
    assert lines[-1].startswith(
        "[8/27] Cosmos DB account (Cassandra) pptest-cosmos failed: InjectedFailure: the operation failed"
    )
    assert lines[-1].endswith("run `up` again to continue")


def test_the_commands_are_registered_for_persona_pipeline():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    group = project["project"]["entry-points"]["persona_pipeline.commands"]
    assert group["orchestration_driver"] == "orchestration_driver.cli:register"
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    parsed = parser.parse_args(["deploy", "azure", "down", "--keep-data", "--cloud", "AzureUSGovernment"])
    assert (parsed.action, parsed.keep_data, parsed.cloud) == ("down", True, "AzureUSGovernment")
    parsed = parser.parse_args(["testdata", "upload", "azurefiles://testdata/faces-small", "/tmp/x"])
    assert parsed.destination == "azurefiles://testdata/faces-small"


@pytest.mark.parametrize("bad", ["https://a/b", "azurefiles:///dir", "/local/path"])
def test_testdata_destination_must_be_azurefiles(bad):
    with pytest.raises(ValueError, match="azurefiles://<share>/<dir>"):
        cli.parse_destination(bad)


def test_status_shows_resources_the_built_image_and_the_release(arm, config, clients):
    cli.run_action(args("up", skip_build=False), config, clients, RecordingHelm(), lambda _: None)
    [run] = [r for rid, r in arm.state.resources.items() if "/runs/" in rid]
    helm, lines = RecordingHelm(), []
    cli.run_action(args("status"), config, clients, helm, lines.append)
    assert any(line.startswith("Succeeded") and "AKS cluster pptest-aks" in line for line in lines)
    assert f"image: {run['properties']['outputImages'][0]['digest']}" in lines
    assert helm.calls[0][:4] == ["status", "persona", "--namespace", "persona"]
    assert lines[-1].startswith("healthz https://persona.example.com/healthz: ")


def test_registering_the_commands_needs_no_deploy_only_package():
    """The image installs the runtime dependencies only, and `persona-pipeline` registers every package's
    commands: importing the driver's CLI must not load an Azure management SDK, azure-identity or PyYAML."""
    only = ("azure.mgmt", "azure.identity", "yaml")
    probe = f"import sys, orchestration_driver.cli; print(sorted(m for m in sys.modules if m.startswith({only})))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert loaded.stdout.strip() == "[]"
