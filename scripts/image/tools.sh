#!/usr/bin/env bash
# Installs what builds and runs the image without a Docker engine: buildah, podman and debootstrap,
# Debian's packages (apt). Only `make image` / `make image-test` call it; `make install` does not.
# Idempotent: nothing happens when all three are on the PATH.
set -euo pipefail
need=()
for tool in buildah podman debootstrap; do command -v "$tool" >/dev/null || need+=("$tool"); done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
echo "[image-tools] apt-get install ${need[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
