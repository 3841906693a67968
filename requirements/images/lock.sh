#!/usr/bin/env bash
# Regenerates the images' hash-pinned requirements (runtime.txt, build.txt, devtools.txt)
# from the *.in files here, at the versions of requirements/constraints.txt:
#   requirements/images/lock.sh        (needs network to PyPI; uses a throwaway venv)
set -euo pipefail
cd "$(dirname "$0")"
TOOLS=$(mktemp -d)
trap 'rm -rf "$TOOLS"' EXIT
python3 -m venv "$TOOLS"
"$TOOLS/bin/pip" install -q pip-tools==7.6.2
for name in runtime build devtools; do
  "$TOOLS/bin/pip-compile" -q --no-header --no-emit-find-links --generate-hashes --strip-extras \
    --allow-unsafe --constraint=../constraints.txt --output-file="$name.txt" "$name.in"
done
