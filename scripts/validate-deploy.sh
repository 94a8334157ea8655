#!/usr/bin/env bash
# Validate every deployment artefact with real tools, offline. Exit non-zero on any failure.
#
#   1. Dockerfile  hadolint (all rules, failure threshold "info"), then a parse with
#                  dockerfile-parse: pinned base images, non-root numeric USER in the final
#                  stage, no compiler / build tool installed or copied in the final stage.
#   2. Compose     `docker-compose config` (Docker Compose v2, no daemon needed): loads and
#                  validates docker-compose.yml against the Compose Specification schema,
#                  without .env and, if present, with .env.example.
#   3. Helm        `helm lint --strict` on the default values and values-aks.yaml, with
#                  --kube-version; values.schema.json must reject a bad value.
#   4. Kubernetes  `helm template` for several value sets x Kubernetes versions; every
#                  rendered object validated strictly (unknown fields rejected) against
#                  the OpenAPI schemas shipped by kubernetes-validate, KEDA objects against
#                  KEDA's CRD schemas, SecretProviderClass against a schema written from
#                  its CRD, ServiceMonitor / PodMonitor decoded strictly into the Prometheus
#                  Operator's Go types (monitoring-validate). An object of a kind without a
#                  schema is an error.
#
# Usage: scripts/validate-deploy.sh                       run everything
#        scripts/validate-deploy.sh --kube-validate VERSION FILE...   (strict schema check only)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${PP_TOOLS_DIR:-$ROOT/.local/tools}"
BIN="$TOOLS/bin"
CHART="$ROOT/charts/persona-pipeline"
latest_keda_schemas() { find "$TOOLS/schemas" -maxdepth 1 -name 'keda-*' -type d 2>/dev/null | sort | tail -n 1; }
KEDA_SCHEMAS="$(latest_keda_schemas || true)"
# Kubernetes versions the chart is validated for (AKS supported range at the time of writing).
KUBE_VERSIONS="${KUBE_VERSIONS:-1.31.0 1.34.0}"

kube_validate() {
  local version="$1"; shift
  PP_MONITORING_VALIDATE="$BIN/monitoring-validate" "$BIN/python" - "$version" "$KEDA_SCHEMAS" "$@" <<'PY'
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml
from kubernetes_validate import utils as kv

version, keda_dir, files = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]

SPC_SCHEMA = {  # secrets-store.csi.x-k8s.io/v1 SecretProviderClass (from the driver's CRD)
    "type": "object", "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "secrets-store.csi.x-k8s.io/v1"},
        "kind": {"const": "SecretProviderClass"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object", "additionalProperties": False, "required": ["provider"],
            "properties": {
                "provider": {"type": "string", "minLength": 1},
                "parameters": {"type": "object", "additionalProperties": {"type": "string"}},
                "secretObjects": {"type": "array", "items": {
                    "type": "object", "additionalProperties": False, "required": ["secretName", "type", "data"],
                    "properties": {
                        "secretName": {"type": "string"}, "type": {"type": "string"},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                        "data": {"type": "array", "items": {
                            "type": "object", "additionalProperties": False, "required": ["objectName", "key"],
                            "properties": {"objectName": {"type": "string"}, "key": {"type": "string"}}}},
                    }}},
            },
        },
    },
}
custom = {("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass"): SPC_SCHEMA}
MONITORS = {(f"{group}/v1", kind) for group in ("monitoring.coreos.com", "azmonitoring.coreos.com")
            for kind in ("ServiceMonitor", "PodMonitor")}
for name in ("scaledobject-keda-v1alpha1.json", "triggerauthentication-keda-v1alpha1.json"):
    path = keda_dir / name
    if not path.is_file():
        sys.exit(f"FATAL missing KEDA schema {path}: run scripts/install-deploy-tools.sh")
    schema = json.loads(path.read_text())
    custom[(schema["properties"]["apiVersion"]["const"], schema["properties"]["kind"]["const"])] = schema

errors = checked = 0
for file in files:
    for doc in yaml.safe_load_all(Path(file).read_text()):
        if not doc:
            continue
        checked += 1
        label = f"{Path(file).name}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        key = (doc.get("apiVersion"), doc.get("kind"))
        try:
            if key in MONITORS:  # strict decode into the Prometheus Operator's types (scripts/monitoring-validate)
                checker = subprocess.run([os.environ["PP_MONITORING_VALIDATE"], "/dev/stdin"], input=yaml.safe_dump(doc),
                                         capture_output=True, text=True)
                if checker.returncode != 0:
                    errors += 1
                    print(f"ERROR {label}: {checker.stdout.strip()} {checker.stderr.strip()}")
            elif key in custom:
                jsonschema.Draft7Validator(custom[key]).validate(doc)
            else:
                kv.validate(doc, version, strict=True)
        except jsonschema.ValidationError as exc:
            errors += 1
            path = ".".join(str(p) for p in exc.absolute_path)
            print(f"ERROR {label} (k8s {version}): {path}: {exc.message}")
        except kv.SchemaNotFoundError as exc:
            errors += 1
            print(f"ERROR {label}: no schema for {key} in Kubernetes {version}: {exc.message}")
if checked == 0:
    sys.exit("ERROR no objects to validate")
print(f"  {checked} objects valid against Kubernetes {version} (strict)" if not errors else f"  {errors} invalid objects")
sys.exit(1 if errors else 0)
PY
}

if [ "${1:-}" = "--kube-validate" ]; then
  shift
  kube_validate "$@"
  exit $?
fi

bash "$ROOT/scripts/install-deploy-tools.sh" >/dev/null 2>&1 || bash "$ROOT/scripts/install-deploy-tools.sh"
bash "$ROOT/scripts/install-monitoring-tools.sh"
KEDA_SCHEMAS="$(latest_keda_schemas)"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
failures=0
step() { printf '\n== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; failures=$((failures + 1)); }

# ------------------------------------------------------------------ 1. Dockerfile
step "hadolint Dockerfile"
if "$BIN/hadolint" --failure-threshold info "$ROOT/Dockerfile"; then echo "  ok"; else fail "hadolint"; fi

step "Dockerfile stage rules (dockerfile-parse)"
if "$BIN/python" - "$ROOT/Dockerfile" <<'PY'
import re
import sys

from dockerfile_parse import DockerfileParser

parser = DockerfileParser(path=sys.argv[1])
instructions = parser.structure
args = {}
stages = []  # [ [instructions...] ]
for ins in instructions:
    if ins["instruction"] == "ARG" and not stages:
        name, _, value = ins["value"].partition("=")
        args[name.strip()] = value.strip().strip('"')
    if ins["instruction"] == "FROM":
        stages.append([])
    if stages:
        stages[-1].append(ins)
problems = []
stage_names = set()
for stage in stages:
    words = stage[0]["value"].split()
    image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), words[0])
    if image.lower() not in stage_names and image != "scratch":
        if ":" not in image.split("/")[-1] and "@sha256:" not in image:
            problems.append(f"base image {image} has no tag")
        elif image.endswith(":latest"):
            problems.append(f"base image {image} uses latest")
        elif "@sha256:" not in image and not re.search(r":\d+\.\d+\.\d+", image):
            problems.append(f"base image {image} is not pinned to a full version")
    if len(words) >= 3 and words[1].upper() == "AS":
        stage_names.add(words[2].lower())
final = stages[-1]
users = [i["value"].strip() for i in final if i["instruction"] == "USER"]
if not users:
    problems.append("final stage has no USER")
else:
    uid = users[-1].split(":")[0]
    if uid in ("0", "root") or not uid.isdigit():
        problems.append(f"final USER must be a numeric non-root uid, got {users[-1]!r}")
COMPILERS = r"\b(gcc|g\+\+|clang|cc|c\+\+|build-essential|cmake|make|gfortran|python3-dev|libpython3[.\d]*-dev|[a-z0-9.+-]+-dev)\b"
for ins in final:
    if ins["instruction"] == "RUN" and re.search(r"apt-get\s+install|apk\s+add|pip\s+install", ins["value"]):
        found = re.findall(COMPILERS, ins["value"])
        if found:
            problems.append(f"final stage line {ins['startline'] + 1} installs build tools: {sorted(set(found))}")
    if ins["instruction"] == "COPY" and "--from=" in ins["value"] and re.search(r"/usr/bin/(gcc|cc|g\+\+|make)", ins["value"]):
        problems.append(f"final stage line {ins['startline'] + 1} copies a compiler")
for p in problems:
    print(f"  {p}")
print(f"  {len(stages)} stages; final stage runs as {users[-1] if users else '?'}")
sys.exit(1 if problems else 0)
PY
then echo "  ok"; else fail "Dockerfile stage rules"; fi

# ------------------------------------------------------------------ 2. Compose
step "docker-compose config (Compose Specification)"
# A copy without .env: the file must resolve with its defaults alone.
mkdir -p "$WORK/compose" && cp "$ROOT/docker-compose.yml" "$WORK/compose/"
if "$BIN/docker-compose" -f "$WORK/compose/docker-compose.yml" --project-directory "$WORK/compose" config --quiet; then
  echo "  ok (no .env)"
else
  fail "docker-compose config without .env"
fi
if [ -f "$ROOT/.env.example" ]; then
  cp "$ROOT/.env.example" "$WORK/compose/.env"
  if "$BIN/docker-compose" -f "$WORK/compose/docker-compose.yml" --project-directory "$WORK/compose" config --quiet; then
    echo "  ok (.env.example as .env)"
  else
    fail "docker-compose config with .env.example"
  fi
fi

# ------------------------------------------------------------------ 3. Helm lint + schema
LINT_KUBE="${KUBE_VERSIONS##* }"
for values in "" "$CHART/values-aks.yaml"; do
  label="${values:+$(basename "$values")}"; label="${label:-default values}"
  step "helm lint --strict ($label, k8s $LINT_KUBE)"
  if "$BIN/helm" lint --strict --kube-version "$LINT_KUBE" "$CHART" ${values:+-f "$values"}; then :; else fail "helm lint $label"; fi
done

step "values.schema.json rejects bad values"
for bad in "retrainWorker.replicas=2" "web.replicas=1" "config.PP_CASSANDRA_FLAVOR=mysql" \
           "containerSecurityContext.readOnlyRootFilesystem=false" "config.PP_REDIS_URL=redis://x"; do
  if "$BIN/helm" template t "$CHART" --set "$bad" >/dev/null 2>"$WORK/err"; then
    fail "schema accepted $bad"
  else
    echo "  rejected $bad: $(grep -m1 -E "at '|additional|minimum|value must|const|propertyName" "$WORK/err" | sed 's/^ *//')"
  fi
done

# ------------------------------------------------------------------ 4. Render + validate
declare -A SETS=(
  [default]=""
  [aks]="-f $CHART/values-aks.yaml"
  [aks-keda-off]="-f $CHART/values-aks.yaml --set keda.enabled=false"
  [keda-dev-redis]="--set keda.enabled=true --set redis.enabled=true --set web.autoscaling.enabled=true --set web.ingress.enabled=true"
  [existing-secret]="--set secrets.existingSecret=pp-secrets --set config.PP_STORAGE_BACKEND=azure-files --set blobVolume.enabled=false --set flower.enabled=false"
  [keyvault-vm-identity]="-f $CHART/values-aks.yaml --set secrets.keyVault.useWorkloadIdentity=false --set serviceAccount.create=false"
  [monitoring]="--set monitoring.enabled=true --set monitoring.dashboards.enabled=true"
)
for name in $(printf '%s\n' "${!SETS[@]}" | sort); do
  for kube in $KUBE_VERSIONS; do
    step "helm template [$name] --kube-version $kube"
    out="$WORK/$name-$kube.yaml"
    # shellcheck disable=SC2086
    if "$BIN/helm" template pp "$CHART" --namespace persona --kube-version "$kube" ${SETS[$name]} >"$out"; then
      kube_validate "$kube" "$out" || fail "schema validation [$name] k8s $kube"
    else
      fail "helm template [$name] k8s $kube"
    fi
  done
done

echo
if [ "$failures" -gt 0 ]; then
  echo "validate-deploy: $failures check(s) FAILED"
  exit 1
fi
echo "validate-deploy: all checks passed"
