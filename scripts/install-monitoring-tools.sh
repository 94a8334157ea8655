#!/usr/bin/env bash
# Install the monitoring checkers into <repo>/.local/tools/bin, idempotently, from the Go module proxy only:
#   promtool             Prometheus's checker (`promtool check metrics`, `promtool check rules`):
#                        go install -tags remove_all_sd github.com/prometheus/prometheus/cmd/promtool@VERSION
#                        (remove_all_sd leaves out the cloud service-discovery plugins: ~2 min on 2 cores)
#   monitoring-validate  scripts/monitoring-validate: decodes ServiceMonitor / PodMonitor manifests strictly
#                        into the Prometheus Operator's Go types (unknown or mistyped fields are errors)
# Used by tests/unit/common/infra/test_metric_names.py, tests/unit/deploy/test_helm_monitoring.py and
# scripts/validate-deploy.sh.
set -euo pipefail

PROMETHEUS_MODULE_VERSION="v0.316.0"   # the Go module version of Prometheus 3.16.0

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PP_TOOLS_DIR:-$ROOT/.local/tools}/bin"
SRC="$ROOT/scripts/monitoring-validate"
mkdir -p "$BIN"
log() { printf '[install-monitoring-tools] %s\n' "$*" >&2; }

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
need_go() { command -v go >/dev/null 2>&1 || { log "ERROR: go is required to build $1"; exit 1; }; }

if [ -x "$BIN/promtool" ] && [ -f "$BIN/.promtool-$PROMETHEUS_MODULE_VERSION" ]; then :; else
  need_go promtool
  log "building promtool $PROMETHEUS_MODULE_VERSION from the Go module proxy"
  GOBIN="$BIN" CGO_ENABLED=0 GOFLAGS=-mod=mod go install -tags remove_all_sd -ldflags "-s -w" \
    "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_MODULE_VERSION"
  "$BIN/promtool" --help >/dev/null
  rm -f "$BIN"/.promtool-*
  touch "$BIN/.promtool-$PROMETHEUS_MODULE_VERSION"
fi

stamp="$BIN/.monitoring-validate-$(cat "$SRC/main.go" "$SRC/go.mod" "$SRC/go.sum" | sha256sum | cut -c1-16)"
if [ -x "$BIN/monitoring-validate" ] && [ -f "$stamp" ]; then :; else
  need_go monitoring-validate
  log "building monitoring-validate (Prometheus Operator types from the Go module proxy)"
  (cd "$SRC" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags "-s -w" -o "$BIN/monitoring-validate" .)
  rm -f "$BIN"/.monitoring-validate-*
  touch "$stamp"
fi
