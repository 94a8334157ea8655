#!/usr/bin/env bash
# Builds a local stand-in for python:3.11-slim-bookworm when Docker Hub cannot be reached: a Debian 12
# root file system made by debootstrap from Debian's own packages, imported as a podman/buildah image.
# It gives the Dockerfile what it expects of the official base: `python` (3.11) with `venv` on the PATH,
# ca-certificates, libstdc++ and zlib, useradd/groupadd. Differences from the official image: Debian's
# Python 3.11.2 in /usr/bin (official: 3.11.13 built from source in /usr/local/bin), Debian's setuptools in
# new virtualenvs, and no pip outside a virtualenv.
#
# Cached by the hash of its inputs (this script, suite, packages, mirror): the tarball lives in
# $PP_STATE_DIR/image/ and the image is tagged localhost/pp-python-base:<hash>. Prints the image name.
# Needs root (debootstrap) and the packages debootstrap + podman (scripts/image/tools.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/../.."
STATE=${PP_STATE_DIR:-$PWD/.local}
SUITE=bookworm
PACKAGES=python3,python3-venv,python-is-python3,ca-certificates
MIRROR=${PP_DEBIAN_MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
log() { printf '[image-base] %s\n' "$*" >&2; }

key=$( { cat "$0"; echo "$SUITE $PACKAGES $MIRROR"; } | sha256sum | cut -c1-12)
name=localhost/pp-python-base:$key
tarball=$STATE/image/python-base-$key.tar
if podman image exists "$name"; then
  log "$name (cached)"
  echo "$name"
  exit 0
fi
mkdir -p "$STATE/image"
if [ ! -s "$tarball" ]; then
  root=$(mktemp -d "$STATE/image/rootfs.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  log "debootstrap $SUITE ($PACKAGES) from $MIRROR"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$MIRROR" >"$STATE/image/debootstrap.log" 2>&1 \
    || { tail -20 "$STATE/image/debootstrap.log" >&2; exit 1; }
  # What the official slim image leaves out as well: package caches and lists, docs.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log "$root"/debootstrap
  chroot "$root" python -c 'import venv, ssl; print("python", __import__("sys").version.split()[0])' >&2 \
    || { log "ERROR: no python with venv and ssl in the root file system"; exit 1; }
  tar --numeric-owner -C "$root" -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
  find "$STATE/image" -maxdepth 1 -name 'python-base-*.tar' ! -name "${tarball##*/}" -delete  # older inputs
fi
log "importing $tarball as $name"
podman import --quiet --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["python3"]' "$tarball" "$name" >/dev/null
echo "$name"
