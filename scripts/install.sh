#!/usr/bin/env bash
# Installs everything persona-pipeline needs on a Debian machine, idempotently:
# apt packages (Redis, Java 17, Maven, Chromium for browser tests), the Python
# virtualenv with the project and its dev tools (locked: requirements/dev.txt), and Cassandra's jars from
# Maven Central. Safe to run again; each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=${PP_STATE_DIR:-$PWD/.local}
VENV=${VENV:-$PWD/.venv}
PYTHON=${PYTHON:-python3}
mkdir -p "$STATE"

need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v mvn >/dev/null || need_apt+=(maven)
ls /usr/lib/jvm/*17*/bin/java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v wrk >/dev/null || need_apt+=(wrk)  # the web benchmark's load generator
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "==> apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# Debian's package starts a system-wide redis on 6379; ours runs under .local instead.
if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
  systemctl stop redis-server || true
fi
if pgrep -x redis-server >/dev/null && [ ! -f "$STATE/redis/redis.pid" ] && [ -f /var/run/redis/redis-server.pid ]; then
  kill "$(cat /var/run/redis/redis-server.pid)" 2>/dev/null || true
fi

# Dependencies from the lock (requirements/dev.txt, `make lock`), every file checked against its sha256;
# then the project itself, editable, built by the locked setuptools.
stamp="$VENV/.installed-$(cat pyproject.toml requirements/dev.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "==> Python virtualenv $VENV (requirements/dev.txt)"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q --require-hashes -r requirements/dev.txt
  "$VENV/bin/pip" install -q --no-deps --no-build-isolation -e .
  if unlocked=$("$VENV/bin/pip" check | grep '^persona-pipeline '); then
    echo "requirements/dev.txt misses what pyproject.toml asks for; run \`make lock\`:" >&2
    echo "$unlocked" >&2
    exit 1
  fi
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi

echo "==> Cassandra jars (Maven Central)"
"$VENV/bin/python" -c "
from common.infra.settings import get_settings
from common.infra.local_services.cassandra import LocalCassandra
LocalCassandra(get_settings().state_dir).install()
"
echo "==> installed"
