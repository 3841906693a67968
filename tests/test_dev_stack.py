"""The dev stack keeps to itself (issue 13, defects 6 and 7).

A test run (``tools/stack.py test`` / ``run``, what ``make test`` uses) starts a private stack
on free ports instead of borrowing whatever answers on the default ones, such as another
checkout's ``make up``; every stack names its databases, vhost, Maildir and folders after
itself; ``make up`` refuses a port another process holds instead of using it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STACK_PY = ROOT / "tools" / "stack.py"
DEFAULT_PORTS = {
    "LETHE_MONGO_PORT": 27018,
    "LETHE_AMQP_PORT": 5672,
    "LETHE_SMTP_PORT": 2525,
    "LETHE_PAYMENT_PORT": 8090,
    "LETHE_SUPPLIER_PORT": 8091,
    "LETHE_GATEWAY_PORT": 8080,
}
BACKEND_PORTS = {
    "IDENTITY_GRPC_ADDR": 50051,
    "CONSENT_GRPC_ADDR": 50052,
    "SHOP_GRPC_ADDR": 50053,
    "NEWSLETTER_GRPC_ADDR": 50054,
    "ANALYTICS_GRPC_ADDR": 50056,
}
OUR_PREFIXES = ("LETHE_", "SHOP_", "IDENTITY_", "CONSENT_", "NEWSLETTER_", "ANALYTICS_", "GATEWAY_")
PROBE = """
import json, os
from kombu import Connection
from pymongo import MongoClient
with Connection(os.environ["LETHE_AMQP_URL"], connect_timeout=5) as broker:
    broker.connect()
MongoClient(os.environ["LETHE_MONGO_URL"], serverSelectionTimeoutMS=5000).admin.command("ping")
print("ENV=" + json.dumps({k: v for k, v in os.environ.items() if k.startswith(PREFIXES)}))
""".replace("PREFIXES", repr(OUR_PREFIXES))


class Decoy:
    """Something else listening on a port, as another checkout's server would: it counts
    every connection made to it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connections = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.closed.set()
        self.sock.close()


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a person typing the command: none of this run's own settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(OUR_PREFIXES)}
    return {**env, **extra}


def run_stack(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(STACK_PY), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def stack_env(**extra: str) -> dict[str, str]:
    done = run_stack(["env"], clean_env(**extra))
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


def test_a_test_run_starts_its_own_servers_beside_a_stack_on_the_default_ports() -> None:
    decoys = []
    for port in [*DEFAULT_PORTS.values(), *BACKEND_PORTS.values()]:
        with contextlib.suppress(OSError):  # if something real holds it, that is the case too
            decoys.append(Decoy(port))
    try:
        done = run_stack(["run", "--", sys.executable, "-c", PROBE], clean_env())
    finally:
        for decoy in decoys:
            decoy.close()
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert [d.port for d in decoys if d.connections] == []
    line = next(line for line in done.stdout.splitlines() if line.startswith("ENV="))
    env = json.loads(line.removeprefix("ENV="))
    for key, default in DEFAULT_PORTS.items():
        assert int(env[key]) != default, key
    for key, default in BACKEND_PORTS.items():
        assert f":{default}" not in env[key], key
    name = env["LETHE_STACK"]
    assert re.fullmatch(r"[a-z0-9-]+-t[0-9]+", name), name
    place = ROOT / "var" / "stacks" / name
    assert env["LETHE_MAILDIR"] == str(place / "mail")
    assert env["LETHE_AMQP_URL"].endswith(f":{env['LETHE_AMQP_PORT']}/{name}")
    assert env["SHOP_MONGO_DB"] == f"{name.replace('-', '_')}_shop"
    assert not place.exists(), "a private stack's data is removed after a good run"


def test_every_stack_names_its_data_after_itself() -> None:
    alpha, beta = stack_env(LETHE_STACK="alpha"), stack_env(LETHE_STACK="beta")
    for key in (
        "LETHE_MAILDIR",
        "SHOP_DOWNLOADS_DIR",
        "LETHE_AMQP_URL",
        "IDENTITY_MONGO_DB",
        "CONSENT_MONGO_DB",
        "SHOP_MONGO_DB",
        "NEWSLETTER_MONGO_DB",
    ):
        assert alpha[key] != beta[key], key
        assert "alpha" in alpha[key] and "beta" in beta[key], key
    assert alpha["LETHE_AMQP_URL"].endswith("/alpha")
    assert alpha["LETHE_MAILDIR"] == str(ROOT / "var" / "stacks" / "alpha" / "mail")


def test_the_default_name_is_the_checkouts() -> None:
    default = stack_env()
    name = default["LETHE_STACK"]
    assert name.startswith(ROOT.name.lower()[:24].strip("-"))
    assert default["IDENTITY_MONGO_DB"] == f"{name.replace('-', '_')}_identity"
    # another checkout of the same folder name elsewhere gets another name
    other = ROOT.parent / f"elsewhere-{secrets.token_hex(3)}" / ROOT.name
    other.mkdir(parents=True)
    try:
        (other / "tools").mkdir()
        shutil.copy(STACK_PY, other / "tools" / "stack.py")
        done = subprocess.run(
            [sys.executable, str(other / "tools" / "stack.py"), "env", "LETHE_STACK"],
            cwd=other,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() not in ("", name)
    finally:
        shutil.rmtree(other.parent)


def test_a_bad_stack_name_is_refused_with_a_reason() -> None:
    done = run_stack(["env"], clean_env(LETHE_STACK="../../etc"))
    assert done.returncode != 0
    assert "LETHE_STACK must be" in done.stderr


def test_make_up_refuses_a_port_another_process_holds() -> None:
    name = f"refuse-{secrets.token_hex(3)}"
    with socket.socket() as finder:
        finder.bind(("127.0.0.1", 0))
        port = finder.getsockname()[1]
    decoy = Decoy(port)
    try:
        done = run_stack(
            ["up", "--timeout", "30"], clean_env(LETHE_STACK=name, LETHE_MONGO_PORT=str(port)), timeout=90
        )
    finally:
        decoy.close()
        shutil.rmtree(ROOT / "var" / "stacks" / name, ignore_errors=True)
    assert done.returncode == 1, done.stdout[-2000:]
    assert f"port {port} (ferretdb) is held by a process this stack did not start" in done.stdout
    assert "LETHE_PORT_OFFSET" in done.stdout
    assert "Lethe is up" not in done.stdout
