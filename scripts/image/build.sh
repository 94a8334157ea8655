#!/usr/bin/env bash
# `make image`: builds the Dockerfile as persona-pipeline:<version of pyproject.toml> and prints its size
# and digest. With a running Docker engine: `docker build`. Without one: buildah (installed from Debian's
# packages by scripts/image/tools.sh) with its layer cache, so an unchanged tree rebuilds in seconds.
# Base: PP_PYTHON_IMAGE if set; else the Dockerfile's official python:3.11.x-slim-bookworm if it is
# present or can be pulled; else the local Debian base of scripts/image/base.sh (Docker Hub unreachable).
# The image name goes to stdout as the last line ("persona-pipeline:0.1.0"); everything else to stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)
tag=${PP_IMAGE:-persona-pipeline:$version}
official=$(sed -n 's/^ARG PYTHON_IMAGE=//p' Dockerfile)
log() { printf '[image] %s\n' "$*" >&2; }
started=$SECONDS

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  base=${PP_PYTHON_IMAGE:-$official}
  log "docker build -t $tag (base $base)"
  docker build --build-arg "PYTHON_IMAGE=$base" -t "$tag" . >&2
  size=$(docker image inspect --format '{{.Size}}' "$tag")
  digest="image id $(docker image inspect --format '{{.Id}}' "$tag")"  # a repo digest exists after a push only
else
  bash scripts/image/tools.sh
  base=${PP_PYTHON_IMAGE:-}
  if [ -z "$base" ]; then
    if buildah inspect --type image "$official" >/dev/null 2>&1 || buildah pull -q "docker.io/library/$official" >/dev/null 2>&1; then
      base=$official
    else
      log "$official cannot be pulled: using the local Debian base (scripts/image/base.sh)"
      base=$(bash scripts/image/base.sh)
    fi
  fi
  # A host that reaches PyPI through a TLS-inspecting proxy trusts its CA in pip's config (PIP_CERT or
  # /etc/pip.conf `cert =`): the build's RUN steps get that file and a pip.conf naming it, as volumes
  # that are not part of the image.
  volumes=()
  cert=${PIP_CERT:-$(sed -n 's/^cert *= *//p' /etc/pip.conf 2>/dev/null | head -1)}
  if [ -n "$cert" ] && [ -f "$cert" ]; then
    conf="$(mktemp -d)"
    trap 'rm -rf "$conf"' EXIT
    cp "$cert" "$conf/ca.crt"
    printf '[global]\ncert = /etc/pp-build-ca.crt\n' >"$conf/pip.conf"
    volumes=(-v "$conf/ca.crt:/etc/pp-build-ca.crt:ro" -v "$conf/pip.conf:/etc/pip.conf:ro")
    log "pip in the build trusts $cert (host pip config)"
  fi
  previous=$(podman image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
  log "buildah bud -t $tag (base $base)"
  buildah bud --isolation chroot --layers --quiet "${volumes[@]}" --build-arg "PYTHON_IMAGE=$base" -t "$tag" . >&2
  size=$(podman image inspect --format '{{.Size}}' "$tag")
  digest="digest $(podman image inspect --format '{{.Digest}}' "$tag")"
  # the image this tag named before: its copy of /opt/venv is a layer of its own (~600 MB); the
  # builder's cached layers stay
  if [ -n "$previous" ] && [ "$previous" != "$(podman image inspect --format '{{.Id}}' "$tag")" ]; then
    buildah rmi "$previous" >/dev/null 2>&1 || true
  fi
fi
log "built $tag in $((SECONDS - started)) s: $((size / 1000000)) MB uncompressed, $digest"
echo "$tag"
