"""`make image-test`'s engine: every role of docker-compose.yml started from the built image, without Docker.

Each compose service (migrate, web, input worker, retrain worker, reclassify worker, beat, Flower) runs its
compose command, read from docker-compose.yml, in its own buildah container of the image (``buildah run
--isolation chroot --network host``): against the local Cassandra (a fresh keyspace ``pp_image_<random>``)
and Redis (``PP_IMAGE_TEST_REDIS_URL``, default DB 11), the compose environment with the host's addresses,
a temporary data folder mounted at ``/data``, a tmpfs on ``/tmp``, secrets passed as environment variables.
The only change to a command is its listening port (host network: no port mapping), as ``docker compose``
would map it. Then the faces-small demo runs through those processes.

What it records for the checks (tests/image/test_image.py): migrate's exit code, ``/healthz`` and
``/healthz/details`` (every worker answering), Flower's answer, the demo's rows, the uid of every process,
the files each container wrote outside ``/tmp`` and ``/data`` (buildah has no read-only root, so the
container layer is listed after a no-op run and again at the end), compilers in the image, size, digest.
Everything started is stopped and removed; the keyspace and the Redis DB are dropped.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from base64 import b64encode
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ROLES = ["migrate", "web", "input-worker", "retrain-worker", "reclassify-worker", "beat", "flower"]
LONG_RUNNING = ROLES[1:]
WORKER_NAMES = {"input-worker": "input@", "retrain-worker": "retrain@", "reclassify-worker": "reclassify@"}
APP_UID = 10001
ALLOWED_WRITES = ("/tmp", "/data")  # the tmpfs and the mounted data folder
DATASETS = (ROOT.parent / "shared" / "datasets" / "faces-small", Path("/work/shared/datasets/faces-small"))
# Build tools that must not be in the final image (any bin folder, /opt/venv/bin included).
BUILD_TOOLS = re.compile(
    r"^(gcc|g\+\+|cc|c\+\+|cpp|clang|clang\+\+|make|gmake|cmake|ninja|ld|ld\.bfd|ld\.gold|as|gfortran|meson"
    r"|x86_64-linux-gnu-(gcc|g\+\+|cpp|ld|as)(-\d+)?|(gcc|g\+\+|cpp)-\d+)$"
)
# buildah itself, its chroot runtime (root) and exec shim: not the app's processes
BUILDAH_EXES = ("/usr/bin/buildah", "/usr/local/bin/buildah", "/memfd:buildah")
# files buildah run itself (re)writes in the container on every run, as root; allowed if the no-op run made them
BUILDAH_FILES = frozenset({"/run/.containerenv", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname"})
BIN_DIRS = ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/opt/venv/bin")


def say(line: str) -> None:
    print(f"[image-test] {line}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- compose, the one source of truth


def compose_services() -> dict[str, dict]:
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]


def _interpolate(value: str, given: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?message}``, from ``given`` only."""

    def one(match: re.Match) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3) or ""
        if name in given:
            return given[name]
        if op == ":-":
            return rest
        raise KeyError(f"{name} is required by docker-compose.yml ({rest})")

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, str(value))


def role_environment(service: dict, given: dict[str, str]) -> dict[str, str]:
    return {k: _interpolate(v, given) for k, v in (service.get("environment") or {}).items()}


def role_command(service: dict, ports: dict[str, int]) -> list[str]:
    """The compose command with its listening ports moved to free host ports (host network, no mapping)."""
    moved = {
        "0.0.0.0:8000": f"127.0.0.1:{ports['web']}",
        "0.0.0.0:9464": f"127.0.0.1:{ports['metrics']}",
        "--port=5555": f"--port={ports['flower']}",
    }
    return [moved.get(arg, arg) for arg in service["command"]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- buildah


def _run(*args: str, timeout: float = 300, check: bool = True) -> str:
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return result.stdout.strip()


@dataclass
class ImageFacts:
    name: str
    size_bytes: int
    digest: str
    user: str
    build_tools: list[str]


def image_facts(image: str) -> ImageFacts:
    """Size, digest, configured user, and any build tool found in the image's bin folders."""
    inspect = json.loads(_run("podman", "image", "inspect", image))[0]
    ctr = _run("buildah", "from", "--pull-never", "--name", f"pp-image-facts-{uuid.uuid4().hex[:8]}", image)
    try:
        root = Path(_run("buildah", "mount", ctr))
        tools = []
        for folder in BIN_DIRS:
            path = root / folder.lstrip("/")
            if path.is_dir() and not path.is_symlink():
                tools += [f"{folder}/{p.name}" for p in path.iterdir() if BUILD_TOOLS.match(p.name)]
    finally:
        _run("buildah", "rm", ctr, check=False)
    return ImageFacts(image, int(inspect["Size"]), inspect["Digest"], inspect["Config"].get("User", ""), sorted(tools))


def _layer_dir(ctr: str) -> Path:
    """The container's own overlay layer (its writes), under containers/storage."""
    merged = Path(_run("buildah", "mount", ctr))
    return merged.parent / "diff"


def _layer_files(ctr: str) -> dict[str, tuple[int, int]]:
    """Every path in the container's layer -> (mtime_ns, size); a folder -> (0, 0), as its mtime changes with
    its entries (which are listed themselves; a deleted file is a whiteout entry)."""
    base = _layer_dir(ctr)
    out = {}
    for folder, dirs, files in os.walk(base):
        for name in dirs:
            out["/" + str((Path(folder) / name).relative_to(base))] = (0, 0)
        for name in files:
            path = Path(folder) / name
            st = path.lstat()
            out["/" + str(path.relative_to(base))] = (st.st_mtime_ns, st.st_size)
    return out


@dataclass
class Role:
    name: str
    ctr: str
    command: list[str]
    log: Path
    proc: subprocess.Popen | None = None
    before: dict[str, tuple[int, int]] = field(default_factory=dict)

    def pids(self) -> list[int]:
        """The role's processes: every descendant of `buildah run` except buildah's own."""
        if self.proc is None:
            return []
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        out, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            for child in children.get(pid, []):
                todo.append(child)
                with contextlib.suppress(OSError):
                    exe = os.readlink(f"/proc/{child}/exe")
                    if not exe.startswith(BUILDAH_EXES):
                        out.append(child)
        return out


def uids(pids: list[int]) -> dict[int, int]:
    """pid -> real uid (pids that ended meanwhile are left out)."""
    out = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("Uid:"))
            out[pid] = int(line.split()[1])
    return out


# --------------------------------------------------------------------------- the run


@dataclass
class Report:
    image: ImageFacts | None = None
    keyspace: str = ""
    dataset: str = ""
    migrate_exit: int | None = None
    healthz: int | None = None
    health_details: dict = field(default_factory=dict)
    flower: int | None = None
    demo_rows: list[dict] = field(default_factory=list)
    demo_seconds: float = 0.0
    demo_error: str = ""  # the host-side driver's stderr tail when it failed
    uids: dict[str, list[int]] = field(default_factory=dict)  # role -> uids of its processes
    stray_writes: dict[str, list[str]] = field(default_factory=dict)  # role -> paths outside /tmp and /data
    exited_early: dict[str, int] = field(default_factory=dict)  # role -> exit code of a role that stopped
    seconds: float = 0.0
    logs: Path | None = None

    def log_tail(self, role: str, lines: int = 40) -> str:
        if self.logs is None or not (self.logs / f"{role}.log").exists():
            return ""
        return "\n".join((self.logs / f"{role}.log").read_text(errors="replace").splitlines()[-lines:])


class ImageRun:
    """Start every role from the image, run the demo, record; ``close()`` stops and removes everything."""

    def __init__(self, image: str, redis_url: str, cassandra_host: str = "127.0.0.1") -> None:
        self.image, self.redis_url, self.cassandra_host = image, redis_url, cassandra_host
        self.run_id = uuid.uuid4().hex[:8]
        self.keyspace = f"pp_image_{self.run_id}"
        self.work = Path(tempfile.mkdtemp(prefix=f"pp-image-{self.run_id}-"))
        self.data = self.work / "data"
        self.logs = self.work / "logs"
        self.ports = {"web": free_port(), "metrics": free_port(), "flower": free_port()}
        self.secrets = {
            "PP_WEB_SECRET_KEY": secrets.token_urlsafe(48),
            "PP_ADMIN_PASSWORD": secrets.token_urlsafe(16),
            "PP_ARTIFACT_HMAC_KEY": secrets.token_urlsafe(48),
            "FLOWER_BASIC_AUTH": f"ops:{secrets.token_urlsafe(12)}",
        }
        self.roles: dict[str, Role] = {}
        self.report = Report(keyspace=self.keyspace, logs=self.logs)

    # ---------------------------------------------------------------- environment
    def environment(self, service: dict) -> dict[str, str]:
        env = role_environment(service, {**self.secrets, "PP_CASSANDRA_KEYSPACE": self.keyspace})
        # compose's container wiring -> this host (what the compose network gives the containers)
        env.update(
            PP_CASSANDRA_HOSTS=self.cassandra_host,
            PP_REDIS_URL=self.redis_url,
            PP_CASSANDRA_LOCAL_DC=os.environ.get("PP_IMAGE_TEST_LOCAL_DC", env.get("PP_CASSANDRA_LOCAL_DC", "")),
            PP_FLOWER_URL=f"http://127.0.0.1:{self.ports['flower']}",
            PP_RETRAIN_QUIET_SECONDS="1",
        )
        return env

    def host_env(self) -> dict[str, str]:
        """The host-side demo driver's settings: same keyspace and Redis as the containers."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PP_")}
        return {
            **env,
            "PP_CASSANDRA_KEYSPACE": self.keyspace,
            "PP_REDIS_URL": self.redis_url,
            "PP_CASSANDRA_HOSTS": self.cassandra_host,
            "PP_STORAGE_LOCAL_ROOT": str(self.data / "blobs"),
        }

    # ---------------------------------------------------------------- containers
    def _buildah_run(self, role: Role, env: dict[str, str], mounts: list[str], command: list[str]) -> list[str]:
        args = [
            "buildah",
            "run",
            "--isolation",
            "chroot",
            "--network",
            "host",
            "--mount",
            "type=tmpfs,destination=/tmp",
            "-v",
            f"{self.data}:/data",
        ]
        for mount in mounts:
            args += ["-v", mount]
        for key, value in env.items():
            args += ["--env", f"{key}={value}"]
        return [*args, role.ctr, "--", *command]

    def create(self, name: str, service: dict, mounts: list[str]) -> Role:
        ctr = _run("buildah", "from", "--pull-never", "--name", f"pp-image-{self.run_id}-{name}", self.image)
        role = Role(name, ctr, role_command(service, self.ports), self.logs / f"{name}.log")
        self.roles[name] = role
        # a no-op run first: what buildah itself puts in the layer (mount points, /etc/hosts) is not the app's
        subprocess.run(self._buildah_run(role, {}, mounts, ["true"]), check=True, capture_output=True)
        role.before = _layer_files(ctr)
        return role

    def start(self, role: Role, env: dict[str, str], mounts: list[str]) -> None:
        log = role.log.open("ab")
        role.proc = subprocess.Popen(
            self._buildah_run(role, env, mounts, role.command),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        say(f"started {role.name}: {' '.join(role.command)}")

    def stray_writes(self, role: Role) -> list[str]:
        after = _layer_files(role.ctr)
        changed = [p for p, st in after.items() if role.before.get(p) != st]
        return sorted(
            p
            for p in changed
            if not any(p == a or p.startswith(a + "/") for a in ALLOWED_WRITES)
            and not (p in BUILDAH_FILES and p in role.before)
        )

    # ---------------------------------------------------------------- the sequence
    def run(self, dataset: Path) -> Report:
        started = time.monotonic()
        self.report.image = image_facts(self.image)
        self.report.dataset = str(dataset)
        (self.data / "blobs").mkdir(parents=True)
        self.logs.mkdir()
        os.chown(self.data, APP_UID, APP_UID)
        os.chown(self.data / "blobs", APP_UID, APP_UID)
        services = compose_services()
        dataset_mount = [f"{dataset}:{dataset}:ro"]

        say(f"keyspace {self.keyspace}, Redis {self.redis_url}, data {self.data}, logs {self.logs}")
        migrate = self.create("migrate", services["migrate"], [])
        self.start(migrate, self.environment(services["migrate"]), [])
        self.report.migrate_exit = migrate.proc.wait(timeout=600)
        self.report.stray_writes["migrate"] = self.stray_writes(migrate)
        if self.report.migrate_exit != 0:
            return self._finish(started)

        for name in LONG_RUNNING:
            mounts = dataset_mount if name == "input-worker" else []
            self.create(name, services[name], mounts)
        for name in LONG_RUNNING:
            mounts = dataset_mount if name == "input-worker" else []
            self.start(self.roles[name], self.environment(services[name]), mounts)

        if self._wait_healthy(timeout=240):
            self._check_flower()
            self.report.uids = {n: sorted(set(uids(self.roles[n].pids()).values())) for n in LONG_RUNNING}
            self._demo(dataset)
            self.report.uids = {
                n: sorted(set(self.report.uids[n]) | set(uids(self.roles[n].pids()).values())) for n in LONG_RUNNING
            }
        return self._finish(started)

    def _finish(self, started: float) -> Report:
        self.stop()
        for name, role in self.roles.items():
            if name != "migrate":
                self.report.stray_writes[name] = self.stray_writes(role)
        self.report.seconds = time.monotonic() - started
        return self.report

    def _get(self, path: str, headers: dict | None = None, port: int | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(f"http://127.0.0.1:{port or self.ports['web']}{path}", headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    def _exited(self) -> dict[str, int]:
        return {
            n: r.proc.returncode
            for n, r in self.roles.items()
            if n != "migrate" and r.proc is not None and r.proc.poll() is not None
        }

    def _wait_healthy(self, timeout: float) -> bool:
        """Until /healthz is 200 and /healthz/details (as admin, API token) shows all three workers."""
        deadline = time.monotonic() + timeout
        token = ""
        while time.monotonic() < deadline:
            if exited := self._exited():
                self.report.exited_early = exited
                return False
            self.report.healthz, _ = self._get("/healthz")
            if self.report.healthz == 200 and not token:
                token = self._api_token()
            if token:
                status, body = self._get("/healthz/details", {"Authorization": f"Bearer {token}"})
                with contextlib.suppress(ValueError):
                    self.report.health_details = json.loads(body)
                workers = self.report.health_details.get("checks", {}).get("workers", {}).get("detail", "")
                if status == 200 and all(prefix in workers for prefix in WORKER_NAMES.values()):
                    say(f"healthy: {workers}")
                    return True
            time.sleep(2)
        say(f"not healthy after {timeout:.0f} s: /healthz {self.report.healthz}, {self.report.health_details}")
        return False

    def _api_token(self) -> str:
        """`persona-pipeline tokens create` in the web container (the admin exists once web has started)."""
        web = self.roles["web"]
        env = self.environment(compose_services()["web"])
        args = self._buildah_run(
            web, env, [], ["persona-pipeline", "tokens", "create", "admin", "--name", "image-test", "--days", "1"]
        )
        result = subprocess.run(args, capture_output=True, text=True, timeout=120)
        lines = result.stdout.strip().splitlines()
        return lines[-1].strip() if result.returncode == 0 and lines else ""

    def _check_flower(self) -> None:
        auth = b64encode(self.secrets["FLOWER_BASIC_AUTH"].encode()).decode()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.report.flower, _ = self._get("/", {"Authorization": f"Basic {auth}"}, port=self.ports["flower"])
            if self.report.flower == 200:
                return
            time.sleep(1)

    def _demo(self, dataset: Path) -> None:
        started = time.monotonic()
        say(f"demo: {dataset}")
        result = subprocess.run(
            [sys.executable, "-m", "scripts.image_roles", "--drive-demo", str(dataset)],
            cwd=ROOT,
            env=self.host_env(),
            capture_output=True,
            text=True,
            timeout=900,
        )
        self.report.demo_seconds = time.monotonic() - started
        if result.returncode != 0:
            self.report.demo_error = result.stderr[-3000:]
            say(f"demo driver failed:\n{self.report.demo_error}")
            return
        self.report.demo_rows = json.loads(result.stdout.strip().splitlines()[-1])

    # ---------------------------------------------------------------- cleanup
    def stop(self) -> None:
        """SIGTERM every role's processes (the ones this run started), SIGKILL what is left after 20 s."""
        pids = {n: r.pids() for n, r in self.roles.items()}
        for role_pids in pids.values():
            for pid in role_pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for role in self.roles.values():
            if role.proc is None:
                continue
            try:
                role.proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                for pid in role.pids():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(role.proc.pid, signal.SIGKILL)
                role.proc.wait(timeout=30)

    def close(self) -> None:
        """Remove the containers, drop the keyspace, empty the Redis DB, delete the data folder."""
        self.stop()
        for role in self.roles.values():
            _run("buildah", "rm", role.ctr, check=False)
        drop = (
            "from common.db.session import connect; from common.infra.settings import get_settings; "
            f"c, s = connect(get_settings()); s.execute('DROP KEYSPACE IF EXISTS {self.keyspace}', timeout=120); "
            "c.shutdown(); import redis; redis.Redis.from_url(get_settings().redis_url).flushdb()"
        )
        result = subprocess.run(
            [sys.executable, "-c", drop], cwd=ROOT, env=self.host_env(), capture_output=True, text=True, timeout=300
        )
        if result.returncode != 0:
            say(f"could not drop keyspace {self.keyspace} / empty {self.redis_url}: {result.stderr[-1000:]}")
        if os.environ.get("PP_IMAGE_TEST_KEEP_LOGS") != "1":
            shutil.rmtree(self.work, ignore_errors=True)


def dataset_path(scratch: Path) -> Path:
    """faces-small next to the repository (CI) or in /work/shared; else photos made from images dependencies ship."""
    found = next((c for c in DATASETS if (c / "train").is_dir()), None)
    if found:
        return found.resolve()
    from scripts.demo import builtin_dataset

    return builtin_dataset(scratch / "builtin-dataset")


def drive_demo(dataset: Path) -> int:
    """Host side of the demo (like the CLI): jobs in, results read from Cassandra; the work runs in the image."""
    from common.db import get_database
    from scripts.demo import format_table, run_demo

    rows = run_demo(
        get_database(), dataset, actor="image-test", timeout=600, say=lambda line: print(line, file=sys.stderr)
    )
    print(format_table(rows), file=sys.stderr)
    print(
        json.dumps(
            [
                {
                    "image": r.image,
                    "faces": r.faces,
                    "personas": r.personas,
                    "expected": r.expected,
                    "as_expected": r.as_expected,
                }
                for r in rows
            ]
        )
    )
    return 0


def redis_url() -> str:
    return os.environ.get("PP_IMAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--drive-demo"]:
        return drive_demo(Path(argv[1]))
    image = argv[0] if argv else "persona-pipeline:latest"
    run = ImageRun(image, redis_url())
    try:
        report = run.run(dataset_path(run.work))
    finally:
        run.close()
    print(json.dumps({k: v for k, v in report.__dict__.items() if k != "logs"}, default=str, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
