"""The values the orchestration driver generates render with values-aks.yaml and pass strict validation."""

from __future__ import annotations

import subprocess

import yaml

from orchestration_driver import engine
from orchestration_driver.chart import chart_values
from tests.support.fake_arm import KEYS, FakeArm
from tests.unit.deploy.helm import AKS, BIN, CHART, KUBE, ROOT, by_kind, helm
from tests.unit.orchestration_driver.conftest import make_clients, make_config


def test_generated_values_render_and_validate_with_no_secret(tmp_path):
    config = make_config()
    with FakeArm() as arm:
        clients = make_clients(arm, config)
        actual = engine.up(config, clients, lambda _: None)
        clients.close()
        secrets = [*KEYS.values(), *arm.state.secret_values.values()]
    values = chart_values(config, actual)
    values_file = tmp_path / "values-generated.yaml"
    values_file.write_text(yaml.safe_dump(values))
    assert not [s for s in secrets if s in values_file.read_text()]
    out = helm("template", "persona", str(CHART), "--namespace", "persona", "--kube-version", KUBE,
               "-f", str(AKS), "-f", str(values_file)).stdout  # fmt: skip
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(out)
    check = subprocess.run(["bash", str(ROOT / "scripts" / "validate-deploy.sh"), "--kube-validate", KUBE, str(manifest)],
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    docs = [d for d in yaml.safe_load_all(out) if d]
    spc = by_kind(docs, "SecretProviderClass")["persona-persona-pipeline"]
    identity = arm.state.resources[next(r for r in arm.state.ids() if r.endswith("/userassignedidentities/pptest-id"))]
    assert spc["spec"]["parameters"]["keyvaultName"] == "pptest-kv"
    assert spc["spec"]["parameters"]["clientID"] == identity["properties"]["clientId"]
    web = by_kind(docs, "Deployment")["persona-persona-pipeline-web"]
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == "pptestacr.azurecr.io/persona-pipeline:0.1.0"
    [config_map] = [d for d in by_kind(docs, "ConfigMap").values() if "PP_CASSANDRA_HOSTS" in d.get("data", {})]
    assert config_map["data"]["PP_CASSANDRA_HOSTS"] == "pptest-cosmos.cassandra.cosmos.azure.com"
    assert config_map["data"]["PP_CASSANDRA_LOCAL_DC"] == "West Europe"
    assert config_map["data"]["PP_AZURE_FACE_ENDPOINT"] == "https://pptest-face.cognitiveservices.azure.com/"
    assert not [s for s in secrets if s in out]
    assert BIN.exists()
