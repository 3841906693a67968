# Lethe: `make up` runs the whole system on 127.0.0.1, `make test` runs every test.
# Both install whatever is missing first (tools/setup.sh).
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: help setup up test test-containers unit down protos lint format bench screenshots

help:
	@echo "make up      install what is missing, start everything, Ctrl-C stops"
	@echo "make test    install what is missing, start the infrastructure, run every test"
	@echo "make test-containers  build every image, docker-compose up the whole stack, smoke-test it, down"
	@echo "make unit    the pure tests only (marked unit): no stack, a few seconds"
	@echo "make screenshots  the portal's main pages at phone and desktop width, into var/screenshots/"
	@echo "make down    stop whatever a run of make up or make test left behind"
	@echo "make protos  regenerate the gRPC code from protos/"
	@echo "make lint    ruff check, ruff format --check and mypy (also a pre-commit hook)"
	@echo "make format  ruff's fixes and the formatter, in place"
	@echo "make bench   the store at 1k-100k documents, the main flows at 1k-100k people, the event path,"
	@echo "             log-in, erasure fan-out, a newsletter campaign and orders, each beside its floor"

setup:
	@tools/setup.sh

up: setup
	@$(PY) tools/stack.py up

test:
	@tools/setup.sh --test
	@$(PY) tools/stack.py test -- $(PYTEST_ARGS)

# Real containers: Debian's docker.io (its own dockerd, stopped by pid), a local base image
# from debootstrap, every image, docker-compose.yml up, a smoke scenario, down -v.
test-containers:
	@tools/setup.sh --containers
	@$(PY) tools/containers.py test

unit:
	@tools/setup.sh
	@$(PY) -m pytest -m unit -q $(PYTEST_ARGS)

down:
	@if [ -x $(PY) ]; then $(PY) tools/stack.py down; else python3 tools/stack.py down; fi

protos: setup
	@$(PY) tools/gen_protos.py
	@.venv/bin/pip install -q --no-build-isolation --no-deps --force-reinstall ./protos

lint: setup
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .
	@.venv/bin/mypy

format: setup
	@.venv/bin/ruff check --fix -q .
	@.venv/bin/ruff format .

bench:
	@tools/setup.sh --bench
	@$(PY) bench/bench_store.py
	@$(PY) tools/stack.py run -- $(PY) bench/bench_scale.py
	@$(PY) tools/stack.py run -- $(PY) bench/bench_events.py
	@$(PY) tools/stack.py run -- $(PY) bench/bench_sessions.py
	@$(PY) tools/stack.py run -- $(PY) bench/bench_erasure.py
	@$(PY) tools/stack.py run -- $(PY) bench/bench_rights.py
	@$(PY) tools/stack.py run -- $(PY) bench/bench_newsletter.py
	@$(PY) tools/stack.py run -- $(PY) bench/bench_shop.py

# The portal's main pages (tools/screenshots.py: MAIN_PAGES) in Debian's Chromium at 390x844
# and 1366x900, on a whole private stack: var/screenshots/<page>-<phone|desktop>.png.
screenshots:
	@tools/setup.sh --browser
	@$(PY) tools/stack.py run -- $(PY) tools/screenshots.py
