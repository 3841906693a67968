#!/usr/bin/env bash
# Builds the FerretDB launcher: FerretDB v1.24.0's module source from the Go
# module proxy, with our patches (tools/ferretdb/patches/*.patch) applied, in
# var/build/ferretdb-src, which go.mod's `replace` directive points at.
# Why the patches: docs/architecture.md ("The dev store").
#   tools/ferretdb/build.sh OUTPUT
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$(realpath -m "${1:?usage: build.sh OUTPUT}")
MODULE=github.com/FerretDB/FerretDB
VERSION=$(sed -n "s|^require $MODULE \(v[^ ]*\)$|\1|p" "$HERE/go.mod")
SRC=$ROOT/var/build/ferretdb-src

command -v go >/dev/null || { echo "Go is required to build the FerretDB launcher" >&2; exit 1; }
[ -n "$VERSION" ] || { echo "no 'require $MODULE vX.Y.Z' line in $HERE/go.mod" >&2; exit 1; }

# The pristine source, checked by go.sum through the module cache.
pristine=$(cd "$HERE" && GOFLAGS=-mod=mod go mod download -json "$MODULE@$VERSION" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$pristine" ] || { echo "could not download $MODULE@$VERSION" >&2; exit 1; }

rm -rf "$SRC"; mkdir -p "$(dirname "$SRC")"
cp -R "$pristine" "$SRC"; chmod -R u+w "$SRC"
for p in "$HERE"/patches/*.patch; do
  # Outside any repository (GIT_DIR), so git applies to the copy like patch(1) would.
  (cd "$SRC" && GIT_DIR=/nonexistent git apply -p1 "$p")
done
(cd "$HERE" && go build -trimpath -o "$OUT" .)
