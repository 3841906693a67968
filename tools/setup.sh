#!/usr/bin/env bash
# Installs everything Lethe's dev stack and tests need, and only what is
# missing or changed: the virtualenv and pinned Python packages, the generated
# protobuf code, Debian's rabbitmq-server, the FerretDB launcher and a local
# subject pepper. `make up` and `make test` call it; running it twice is cheap.
#   tools/setup.sh          stack and tools
#   tools/setup.sh --test   also the nameko peer's venv used by the tests
#   tools/setup.sh --bench  also Debian's wrk, for the benchmarks
#   tools/setup.sh --containers  also Debian's docker.io, docker-compose and debootstrap
#   tools/setup.sh --browser  also Debian's chromium and axe-core, for make screenshots (--test too)
set -euo pipefail
# Playwright (requirements/dev.txt) drives Debian's chromium: it never downloads a browser.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/.venv
mkdir -p var/bin var/stacks var/secrets

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
fingerprint() { { cat "$@" 2>/dev/null || true; } | sha256sum | cut -d' ' -f1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

find_python() {
  for candidate in "${PYTHON:-}" python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      echo "$candidate"; return 0
    fi
  done
  echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2; return 1
}

# 1. Python packages, pinned by requirements/constraints.txt.
PY=$(find_python)
[ -x "$VENV/bin/python" ] || { say "creating .venv"; "$PY" -m venv "$VENV"; }
PYPROJECTS=(libs/pyproject.toml libs/testing/pyproject.toml services/*/pyproject.toml protos/pyproject.toml)
want=$(fingerprint requirements/*.txt "${PYPROJECTS[@]}")
if [ "$(cat "$VENV/.lethe-deps" 2>/dev/null)" != "$want" ]; then
  say "installing Python packages"
  "$VENV/bin/pip" install -q --upgrade pip setuptools \
    -c requirements/constraints.txt
  "$VENV/bin/pip" install -q -c requirements/constraints.txt -r requirements/dev.txt
  echo "$want" > "$VENV/.lethe-deps"
  rm -f "$VENV/.lethe-protos"
fi

# 2. Generated protobuf code, installed as the lethe-protos package, then the
#    services (editable) that import it.
want=$(fingerprint $(find protos/lethe -name '*.proto' | sort) protos/pyproject.toml tools/gen_protos.py)
if [ "$(cat "$VENV/.lethe-protos" 2>/dev/null)" != "$want" ] || [ ! -d protos/gen/python/lethe ]; then
  say "generating protobuf code"
  "$VENV/bin/python" tools/gen_protos.py
  "$VENV/bin/pip" install -q --no-build-isolation --no-deps --force-reinstall ./protos
  PYTHONWARNINGS=ignore "$VENV/bin/pip" install -q --no-build-isolation -c requirements/constraints.txt -e libs -e libs/testing \
    $(for s in services/*/; do printf -- '-e %s ' "$s"; done)
  rm -rf protos/build protos/*.egg-info
  echo "$want" > "$VENV/.lethe-protos"
fi

# 3. RabbitMQ from Debian's packages.
if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  say "installing rabbitmq-server (apt-get)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
fi

# 3b. Prometheus and promtool from Debian's packages: `make up` runs a Prometheus of its own
#     (tools/stack_prometheus.py); the tests run promtool on deploy/prometheus/. The package's
#     own service plays no part: where systemd started it on installation, it is stopped and
#     disabled again (it would hold port 9090, which `make up` uses).
if [ ! -x /usr/bin/prometheus ] || [ ! -x /usr/bin/promtool ]; then
  say "installing prometheus and promtool (apt-get)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null \
    || { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
         as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
  if [ -d /run/systemd/system ]; then
    as_root systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  fi
fi

# 4. The FerretDB launcher (tools/ferretdb): FerretDB v1.24.0 with our patches,
#    built once per change of the launcher, its module pins or the patches.
want=$(fingerprint tools/ferretdb/go.mod tools/ferretdb/go.sum tools/ferretdb/*.go \
  tools/ferretdb/build.sh tools/ferretdb/patches/*.patch)
if [ ! -x var/bin/lethe-ferretdb ] || [ "$(cat var/bin/.lethe-ferretdb 2>/dev/null)" != "$want" ]; then
  say "building the FerretDB launcher (about a minute the first time)"
  tools/ferretdb/build.sh var/bin/lethe-ferretdb
  echo "$want" > var/bin/.lethe-ferretdb
fi

# 5. A local subject pepper for development (production reads it from a secret).
if [ ! -s var/secrets/subject_pepper ]; then
  "$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(32))' > var/secrets/subject_pepper
  chmod 600 var/secrets/subject_pepper
fi

# 5b. Browser tests (tests/browser) and `make screenshots`: Debian's chromium and
#     chromium-driver, which Playwright drives by its path (LETHE_CHROMIUM), and axe-core
#     from npm, pinned by tools/browser/package-lock.json, into tools/browser/node_modules.
if [ "${1:-}" = "--test" ] || [ "${1:-}" = "--browser" ]; then
  missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
  command -v npm >/dev/null || missing+=(npm)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} (apt-get)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
      || { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
           as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }
  fi
  want=$(fingerprint tools/browser/package.json tools/browser/package-lock.json)
  if [ ! -f tools/browser/node_modules/axe-core/axe.min.js ] \
     || [ "$(cat tools/browser/node_modules/.lethe-deps 2>/dev/null)" != "$want" ]; then
    say "installing axe-core (npm ci)"
    npm ci --prefix tools/browser --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
    echo "$want" > tools/browser/node_modules/.lethe-deps
  fi
fi

# 6. The nameko peer's own venv (tests only: nameko needs eventlet, which
#    must never share a process with pymongo or grpcio).
if [ "${1:-}" = "--test" ]; then
  NVENV=$ROOT/var/venv-nameko
  want=$(fingerprint tests/nameko_peer/requirements.txt)
  if [ "$(cat "$NVENV/.lethe-deps" 2>/dev/null)" != "$want" ]; then
    say "creating the nameko peer venv"
    rm -rf "$NVENV"; "$PY" -m venv "$NVENV"
    "$NVENV/bin/pip" install -q -r tests/nameko_peer/requirements.txt
    echo "$want" > "$NVENV/.lethe-deps"
  fi
fi
# 6b. Tests only: the pinned kustomize in var/bin/, for the k8s/ manifests' test.
if [ "${1:-}" = "--test" ]; then
  tools/k8s/install.sh
fi
# 7. Benchmarks only: Debian's wrk, a load generator that is not bound to one Python core.
if [ "${1:-}" = "--bench" ] && ! command -v wrk >/dev/null; then
  say "installing wrk (apt-get)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null \
    || { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
         as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
fi
# 8. Container tests only (make test-containers): Debian's Docker engine and client,
#    docker-compose 1.29 and debootstrap (the local base image). tools/containers.py starts
#    and stops its own dockerd; the package's own service, where systemd runs, stays off.
if [ "${1:-}" = "--containers" ]; then
  missing=()
  [ -x /usr/sbin/dockerd ] || missing+=(docker.io)
  [ -x /usr/bin/docker-compose ] || missing+=(docker-compose)
  command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} (apt-get)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
      || { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
           as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }
    if [ -d /run/systemd/system ]; then
      as_root systemctl disable --now docker.service docker.socket >/dev/null 2>&1 || true
    fi
  fi
fi
say "ready"
