"""docker-compose.yml and the Dockerfile, checked with real tools (no Docker engine needed).

`docker-compose config` (Docker Compose v2 from .local/tools/bin) loads the file,
validates it against the Compose Specification and resolves interpolation; the
tests then read its JSON output. The Dockerfile is linted with hadolint and parsed
with dockerfile-parse. Services and commands must match the Helm chart's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
BIN = ROOT / ".local" / "tools" / "bin"
CHART = ROOT / "charts" / "persona-pipeline"
APP_SERVICES = ["migrate", "web", "input-worker", "retrain-worker", "reclassify-worker", "beat", "flower"]
WORKERS = ["input-worker", "retrain-worker", "reclassify-worker"]
# Only PATH and HOME reach docker-compose: nothing from the caller's environment is interpolated.
CLEAN_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}


def compose(project: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(BIN / "docker-compose"),
            "--project-directory",
            str(project),
            "-f",
            str(project / "docker-compose.yml"),
            *args,
        ],
        capture_output=True,
        text=True,
        env={**CLEAN_ENV, **(env or {})},
        timeout=120,
    )


# What a configured checkout's .env holds: compose has no default for any secret.
SECRETS = {
    "PP_WEB_SECRET_KEY": "k" * 48,
    "PP_ADMIN_PASSWORD": "an-admin-password",
    "FLOWER_BASIC_AUTH": "ops:pw",
    "PP_ARTIFACT_HMAC_KEY": "h" * 48,
}


def dotenv(values: dict[str, str]) -> str:
    return "".join(f"{name}={value}\n" for name, value in values.items())


@pytest.fixture
def fresh_clone(tmp_path) -> Path:
    """A copy of docker-compose.yml in an empty folder: no .env, as on a fresh clone."""
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    return tmp_path


@pytest.fixture
def project(fresh_clone) -> Path:
    """The copy with a .env holding the secrets (and nothing else)."""
    (fresh_clone / ".env").write_text(dotenv(SECRETS))
    return fresh_clone


def resolved(project: Path, env: dict | None = None) -> dict:
    result = compose(project, "config", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def config(project) -> dict:
    return resolved(project)


# ---------------------------------------------------------------- specification


def test_compose_file_is_valid_with_the_secrets_set(project):
    result = compose(project, "config", "--quiet")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_refuses_to_run_without_each_secret(fresh_clone, missing):
    """No fixed session key, no admin/admin: an unset secret is an error, not a default."""
    (fresh_clone / ".env").write_text(dotenv({k: v for k, v in SECRETS.items() if k != missing}))
    result = compose(fresh_clone, "config", "--quiet")
    assert result.returncode != 0 and missing in result.stderr


def test_compose_file_is_valid_with_the_example_env_once_its_secrets_are_filled_in(fresh_clone):
    example = ROOT / ".env.example"
    if not example.exists():
        pytest.fail(".env.example is missing")
    shutil.copy(example, fresh_clone / ".env")
    assert compose(fresh_clone, "config", "--quiet").returncode != 0  # empty secrets are refused
    text = example.read_text()
    for name, value in SECRETS.items():
        assert f"\n{name}=\n" in text, name
        text = text.replace(f"\n{name}=\n", f"\n{name}={value}\n")
    (fresh_clone / ".env").write_text(text)
    result = compose(fresh_clone, "config", "--quiet")
    assert result.returncode == 0, result.stderr
    web = resolved(fresh_clone)["services"]["web"]
    assert web["environment"]["PP_WEB_SECRET_KEY"] == SECRETS["PP_WEB_SECRET_KEY"]


def test_the_validator_rejects_a_file_that_breaks_the_specification(project):
    text = (
        (project / "docker-compose.yml")
        .read_text()
        .replace('    command: ["redis-server"', '    commandd: ["redis-server"', 1)
    )
    (project / "docker-compose.yml").write_text(text)
    result = compose(project, "config", "--quiet")
    assert result.returncode != 0
    assert "commandd" in result.stderr


# ---------------------------------------------------------------- services


def test_services_and_named_volumes(config):
    assert set(config["services"]) == {"cassandra", "redis", *APP_SERVICES}
    assert {"cassandra-data", "redis-data", "blobs"} <= set(config["volumes"])


def test_cassandra_is_the_pinned_official_5_0_image_with_a_healthcheck(config):
    cassandra = config["services"]["cassandra"]
    assert cassandra["image"].startswith("cassandra:5.0.")
    assert "cqlsh" in " ".join(cassandra["healthcheck"]["test"]) and "describe keyspaces" in " ".join(
        cassandra["healthcheck"]["test"]
    )
    assert cassandra["environment"]["MAX_HEAP_SIZE"] == "1G"
    assert cassandra["environment"]["HEAP_NEWSIZE"] == "200M"
    assert any(v["target"] == "/var/lib/cassandra" and v["type"] == "volume" for v in cassandra["volumes"])


def test_redis_keeps_queued_work_across_restarts(config):
    redis = config["services"]["redis"]
    assert redis["image"].startswith("redis:7")
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert any(v["target"] == "/data" and v["source"] == "redis-data" for v in redis["volumes"])
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_migrate_runs_once_after_cassandra_is_healthy_and_gates_the_app(config):
    services = config["services"]
    migrate = services["migrate"]
    assert migrate["command"][:2] == ["persona-pipeline", "migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["cassandra"]["condition"] == "service_healthy"
    for name in ["web", *WORKERS, "beat"]:
        deps = services[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully", name
        assert deps["redis"]["condition"] == "service_healthy", name


def test_retrain_worker_runs_with_concurrency_one(config):
    command = config["services"]["retrain-worker"]["command"]
    assert command[command.index("-Q") + 1] == "retrain"
    assert command[command.index("--concurrency") + 1] == "1"


def test_web_and_workers_share_one_blob_volume(config):
    for name in ["web", *WORKERS]:
        service = config["services"][name]
        mounts = {v["target"]: v["source"] for v in service["volumes"] if v["type"] == "volume"}
        assert mounts.get("/data") == "blobs", name
        assert service["environment"]["PP_STORAGE_BACKEND"] == "local"
        assert service["environment"]["PP_STORAGE_LOCAL_ROOT"].startswith("/data/")


def test_containers_talk_to_each_other_not_to_localhost(project, tmp_path):
    """A developer's .env points at 127.0.0.1; the compose wiring must win."""
    (project / ".env").write_text(
        dotenv(SECRETS)
        + "PP_CASSANDRA_HOSTS=127.0.0.1\nPP_REDIS_URL=redis://127.0.0.1:6379/0\nPP_STORAGE_LOCAL_ROOT=/home/me/blobs\n"
    )
    config = resolved(project)
    for name in APP_SERVICES:
        env = config["services"][name]["environment"]
        assert env["PP_CASSANDRA_HOSTS"] == "cassandra", name
        assert env["PP_REDIS_URL"] == "redis://redis:6379/0", name
        assert env["PP_STORAGE_LOCAL_ROOT"] == "/data/blobs", name


def test_flower_basic_auth_comes_from_the_env_file(project):
    (project / ".env").write_text(dotenv(SECRETS | {"FLOWER_BASIC_AUTH": "ops:s3cret"}))
    flower = resolved(project)["services"]["flower"]
    assert flower["environment"]["FLOWER_BASIC_AUTH"] == "ops:s3cret"
    assert flower["command"] == ["celery", "-A", "trainer_worker.app", "flower", "--port=5555"]
    assert all(p["host_ip"] == "127.0.0.1" for p in flower["ports"])


def test_app_containers_are_hardened_like_the_chart(config):
    for name in APP_SERVICES:
        service = config["services"][name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "/tmp" in service["tmpfs"], name


def test_workers_have_a_heartbeat_healthcheck_and_time_to_finish_tasks(config):
    for name in WORKERS:
        service = config["services"][name]
        test = " ".join(service["healthcheck"]["test"])
        assert "PP_HEARTBEAT_FILE" in test and "st_mtime" in test
        assert service["stop_grace_period"]


# ---------------------------------------------------------------- same commands as the chart


def _chart_commands() -> dict[str, list[str]]:
    out = subprocess.run(
        [str(BIN / "helm"), "template", "pp", str(CHART), "--kube-version", "1.34.0"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    commands = {}
    for doc in yaml.safe_load_all(out):
        if doc and doc["kind"] in ("Deployment", "Job"):
            component = doc["metadata"]["labels"]["app.kubernetes.io/component"]
            commands[component] = doc["spec"]["template"]["spec"]["containers"][0]["command"]
    return commands


def test_compose_commands_match_the_helm_chart(config):
    chart = _chart_commands()
    assert set(chart) == set(APP_SERVICES)
    for name in APP_SERVICES:
        assert config["services"][name]["command"] == chart[name], name


# ---------------------------------------------------------------- Dockerfile


def test_dockerfile_passes_hadolint():
    result = subprocess.run(
        [str(BIN / "hadolint"), "--failure-threshold", "info", str(ROOT / "Dockerfile")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


PARSE = r"""
import json, sys
from dockerfile_parse import DockerfileParser
p = DockerfileParser(path=sys.argv[1])
stages, args = [], {}
for i in p.structure:
    if i["instruction"] == "ARG" and not stages:
        k, _, v = i["value"].partition("=")
        args[k.strip()] = v.strip()
    if i["instruction"] == "FROM":
        stages.append([])
    if stages:
        stages[-1].append([i["instruction"], i["value"]])
print(json.dumps({"args": args, "stages": stages}))
"""


def test_dockerfile_final_stage_is_non_root_pinned_and_compiler_free():
    result = subprocess.run(
        [str(BIN / "python"), "-c", PARSE, str(ROOT / "Dockerfile")], capture_output=True, text=True, check=True
    )
    parsed = json.loads(result.stdout)
    base = parsed["args"]["PYTHON_IMAGE"]
    assert base.startswith("python:3.11.") and base.endswith("-slim-bookworm")
    stages = parsed["stages"]
    assert len(stages) >= 2  # builder + runtime
    final = stages[-1]
    assert final[0] == ["FROM", "${PYTHON_IMAGE} AS runtime"]
    users = [value for ins, value in final if ins == "USER"]
    assert users and users[-1] == "10001:10001"
    runs = " ".join(value for ins, value in final if ins == "RUN")
    for tool in ("gcc", "g++", "build-essential", "cmake", "make ", "-dev"):
        assert tool not in runs
    copies = [value for ins, value in final if ins == "COPY"]
    assert copies == ["--from=builder /opt/venv /opt/venv"]
    cmd = next(value for ins, value in final if ins == "CMD")
    assert json.loads(cmd)[0] == "gunicorn"


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".env", ".git", ".local", ".venv", "tests"):
        assert entry in ignored


def test_web_serves_metrics_on_its_own_port_which_is_not_published(config):
    web = config["services"]["web"]
    assert "0.0.0.0:9464" in web["command"]
    assert [p["target"] for p in web["ports"]] == [8000]
