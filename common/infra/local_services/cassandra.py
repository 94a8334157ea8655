"""A single-node Apache Cassandra 5.0 from Maven Central's jars, run on Java 17.

Maven resolves ``org.apache.cassandra:cassandra-all`` and its runtime
dependencies (``pom.xml`` beside this file) into ``STATE/cassandra/lib``; this
module writes ``cassandra.yaml`` and ``logback.xml`` and starts
``org.apache.cassandra.service.CassandraDaemon`` in the foreground mode,
detached, with its output in ``STATE/cassandra/cassandra.log``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from common.infra.local_services import processes

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
CASSANDRA_VERSION = re.search(r"<cassandra.version>([^<]+)</cassandra.version>", (HERE / "pom.xml").read_text()).group(
    1
)
STARTUP_MARKER = "Startup complete"
# Cassandra's shared thread pool keeps idle workers polling for new work in ~10 microsecond sleeps for
# tens of milliseconds after every request. Under the sporadic load of a pipeline (a few statements per
# image, the rest of the CPU busy detecting faces) that polling cost 8 ms of CPU per statement on two
# cores. A 250 us timer slack (the kernel may wake a sleeping thread that much later; threads inherit
# it) cuts that to about 3 ms with no change in request latency (docs/input-worker.md, "Throughput").
TIMER_SLACK_NS = 250_000


class CassandraError(RuntimeError):
    pass


class LocalCassandra:
    name = "cassandra"

    def __init__(self, state_dir: Path, native_port: int = 9042, storage_port: int = 7000, heap_mb: int = 1024):
        self.home = state_dir / "cassandra"
        self.lib = self.home / "lib"
        self.conf = self.home / "conf"
        self.data = self.home / "data"
        self.log_file = self.home / "cassandra.log"
        self.pid_file = self.home / "cassandra.pid"
        self.native_port = native_port
        self.storage_port = storage_port
        self.heap_mb = heap_mb

    # --- install -------------------------------------------------------
    @property
    def installed(self) -> bool:
        return (self.lib / f"cassandra-all-{CASSANDRA_VERSION}.jar").exists() and (self.lib / ".complete").exists()

    def install(self) -> None:
        """Resolve the jars with Maven (idempotent: skipped when present)."""
        if self.installed:
            return
        mvn = shutil.which("mvn")
        if mvn is None:
            raise CassandraError("Maven (mvn) is not installed; run `make install` first")
        tmp = self.lib.with_name("lib.partial")
        shutil.rmtree(tmp, ignore_errors=True)
        cmd = [
            mvn, "-q", "-B", "-f", str(HERE / "pom.xml"),
            "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={tmp}",
        ]  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise CassandraError(
                f"Maven could not resolve cassandra-all {CASSANDRA_VERSION}:\n$ {' '.join(cmd)}\n"
                f"{result.stdout[-4000:]}{result.stderr[-4000:]}"
            )
        (tmp / ".complete").write_text(CASSANDRA_VERSION)
        shutil.rmtree(self.lib, ignore_errors=True)
        tmp.rename(self.lib)

    # --- configuration -------------------------------------------------
    def write_config(self) -> None:
        self.conf.mkdir(parents=True, exist_ok=True)
        for sub in ("data", "commitlog", "saved_caches", "hints", "cdc_raw"):
            (self.data / sub).mkdir(parents=True, exist_ok=True)
        yaml = (TEMPLATES / "cassandra.yaml").read_text()
        for key, value in {
            "{storage_port}": self.storage_port,
            "{native_port}": self.native_port,
            "{data_dir}": self.data,
        }.items():
            yaml = yaml.replace(key, str(value))
        (self.conf / "cassandra.yaml").write_text(yaml)
        shutil.copyfile(TEMPLATES / "logback.xml", self.conf / "logback.xml")

    def java_command(self) -> list[str]:
        java = find_java17()
        jamm = next(self.lib.glob("jamm-*.jar"), None)
        if jamm is None:
            raise CassandraError(f"jamm agent jar missing from {self.lib}")
        options = [
            line.strip()
            for line in (TEMPLATES / "jvm17-server.options").read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
        flags: list[str] = []
        for opt in options:
            flags.extend(opt.split(" ", 1) if opt.startswith("--add-") else [opt])
        return [
            java,
            f"-Xms{self.heap_mb // 2}m",
            f"-Xmx{self.heap_mb}m",
            *flags,
            f"-javaagent:{jamm}",
            f"-Dcassandra.config=file://{self.conf / 'cassandra.yaml'}",
            f"-Dlogback.configurationFile={self.conf / 'logback.xml'}",
            f"-Dcassandra.storagedir={self.data}",
            f"-Dcassandra.logdir={self.home}",
            "-Dcassandra.jmx.local.port=0",
            "-cp",
            f"{self.conf}:{self.lib}/*",
            "org.apache.cassandra.service.CassandraDaemon",
        ]

    # --- lifecycle -----------------------------------------------------
    def status(self) -> processes.ProcessStatus:
        pid = processes.read_pid(self.pid_file)
        up = processes.port_open("127.0.0.1", self.native_port)
        detail = "" if up or pid is None else "starting (CQL port not open yet)"
        return processes.ProcessStatus(self.name, pid is not None, pid, f"cql://127.0.0.1:{self.native_port}", detail)

    def start(self, wait: float = 240.0) -> bool:
        """Start unless running; return False when it was already running."""
        if processes.read_pid(self.pid_file) is not None:
            self.wait_ready(wait)
            return False
        if processes.port_open("127.0.0.1", self.native_port):
            raise CassandraError(
                f"port {self.native_port} is taken by another process (not ours); stop it or set PP_CASSANDRA_PORT"
            )
        self.install()
        self.write_config()
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        processes.spawn(self.java_command(), self.log_file, self.pid_file, cwd=self.home, timer_slack_ns=TIMER_SLACK_NS)
        self.wait_ready(wait, log_offset=offset)
        return True

    def wait_ready(self, timeout: float, log_offset: int = 0) -> None:
        def ready() -> bool:
            if processes.read_pid(self.pid_file) is None:
                raise CassandraError(f"Cassandra exited during start; see {self.log_file}:\n{self.log_tail()}")
            return processes.port_open("127.0.0.1", self.native_port)

        if not processes.wait_until(ready, timeout, interval=1.0):
            raise CassandraError(
                f"Cassandra did not open port {self.native_port} in {timeout:.0f}s:\n{self.log_tail()}"
            )

    def stop(self) -> bool:
        return processes.stop_pid(self.pid_file, timeout=60)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def find_java17() -> str:
    """A Java 17-23 runtime: JAVA_HOME, then the Debian default, then `java` on PATH."""
    candidates: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]) / "bin" / "java")
    candidates += sorted(Path("/usr/lib/jvm").glob("*17*/bin/java"))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(on_path))
    for java in candidates:
        if java.exists() and 17 <= java_major(java) < 24:
            return str(java)
    raise CassandraError("Cassandra 5.0 needs Java 17 (found none between 17 and 23); install openjdk-17-jre-headless")


def java_major(java: Path) -> int:
    out = subprocess.run([str(java), "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)', out)
    return int(match.group(1)) if match else 0
