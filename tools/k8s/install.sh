#!/usr/bin/env bash
# Installs the pinned kustomize into var/bin/ from the Go module proxy (tests/deploy/
# test_k8s_manifests.py builds k8s/overlays/* with it). Skips when it is there already.
#   tools/k8s/install.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=v5.8.1  # also KUSTOMIZE_VERSION in tools/k8s/checks.py
BIN=$PWD/var/bin/kustomize
if [ -x "$BIN" ] && "$BIN" version 2>/dev/null | grep -q "$VERSION"; then
  exit 0
fi
command -v go >/dev/null || { echo "tools/k8s/install.sh: Go is required to install kustomize" >&2; exit 1; }
mkdir -p var/bin
echo "[setup] installing kustomize $VERSION (go install)"
GOBIN=$PWD/var/bin GOFLAGS=-buildvcs=false go install "sigs.k8s.io/kustomize/kustomize/v5@$VERSION"
"$BIN" version | grep -q "$VERSION" || { echo "kustomize at $BIN is not $VERSION" >&2; exit 1; }
