# One image per Lethe service, all from this file (build from the repository root):
#   docker build --build-arg SERVICE=identity -t lethe-identity .
# SERVICE is identity, consent, shop, newsletter, analytics or gateway. A backend's image runs its
# gRPC API by default (`lethe-<service>-api`) and its worker with the command
# `lethe-<service>-worker`; the gateway's runs `lethe-gateway-api`.
# BASE: the official python:3.11-slim by default; pin it by digest for production
# (docs/operations.md, "Images"). Tests build on a local Debian base made by
# deploy/base/make-base.sh (no registry is reachable there).
# No BuildKit features (the Debian docker.io builder has none).
ARG BASE=python:3.11-slim

# -- build: generated protobuf code and wheels of our packages (compilers and
#    grpcio-tools stay in this stage) ---------------------------------------------
FROM ${BASE} AS build
ARG SERVICE
RUN test -n "$SERVICE" || { echo "--build-arg SERVICE=<identity|consent|shop|newsletter|analytics|gateway> is required" >&2; exit 1; }
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements/images/build.txt /tmp/build.txt
RUN python3 -m venv /opt/build \
 && /opt/build/bin/pip install -q --require-hashes -r /tmp/build.txt
WORKDIR /src
COPY protos/ protos/
COPY tools/gen_protos.py tools/
RUN /opt/build/bin/python tools/gen_protos.py \
 && /opt/build/bin/pip wheel -q --no-deps --no-build-isolation -w /wheels ./protos
COPY libs/pyproject.toml libs/
COPY libs/lethe_common/ libs/lethe_common/
RUN /opt/build/bin/pip wheel -q --no-deps --no-build-isolation -w /wheels ./libs
COPY services/${SERVICE}/pyproject.toml services/${SERVICE}/
COPY services/${SERVICE}/lethe_${SERVICE}/ services/${SERVICE}/lethe_${SERVICE}/
RUN /opt/build/bin/pip wheel -q --no-deps --no-build-isolation -w /wheels ./services/${SERVICE}

# -- runtime packages: hash-pinned, the same layer for every service ----------------
FROM ${BASE} AS runtime
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements/images/runtime.txt /tmp/runtime.txt
RUN python3 -m venv /opt/lethe \
 && /opt/lethe/bin/pip install -q --require-hashes -r /tmp/runtime.txt \
 && rm /tmp/runtime.txt

# -- the service ------------------------------------------------------------------
FROM ${BASE}
ARG SERVICE
# tini reaps children and forwards signals; Debian's base has it, python:3.11-slim not.
RUN command -v tini > /dev/null \
 || { apt-get update -qq && apt-get install -y -qq --no-install-recommends tini > /dev/null \
      && rm -rf /var/lib/apt/lists/*; }
COPY --from=runtime /opt/lethe /opt/lethe
COPY --from=build /wheels /tmp/wheels
RUN /opt/lethe/bin/pip install -q --no-deps --no-index --disable-pip-version-check /tmp/wheels/*.whl \
 && rm -rf /tmp/wheels \
 && ln -s "lethe-${SERVICE}-api" /opt/lethe/bin/lethe-api \
 && install -d -o 65532 -g 65532 /var/lib/lethe
ENV PATH=/opt/lethe/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LETHE_BIND_HOST=0.0.0.0 \
    LETHE_SERVICE=${SERVICE}
# A fixed non-root uid (no name needed); Kubernetes checks runAsNonRoot against it.
# /var/lib/lethe is where a volume goes (the shop's downloads); the rest can be read-only.
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["tini", "--"]
CMD ["lethe-api"]
