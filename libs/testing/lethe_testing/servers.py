"""A store or broker of a test's own, which it may kill (outage tests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from lethe_testing.waiting import free_port, unique, wait_for

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class PrivateServer:
    """A store or broker of a test's own, on its own port and data folder, that it may kill."""

    name: str
    argv: list[str]
    port: int
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> PrivateServer:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child writes to it
        self.popen = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(lambda: _port_open(self.port), timeout, what=f"{self.name} on port {self.port}")
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group: a crash, not a shutdown."""
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)
        wait_for(lambda: not _port_open(self.port), 10, what=f"{self.name} to be gone")


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def private_store(folder: Path) -> PrivateServer:
    port = free_port()
    return PrivateServer(
        "ferretdb",
        [
            str(ROOT / "var" / "bin" / "lethe-ferretdb"),
            "-listen",
            f"127.0.0.1:{port}",
            "-data",
            str(folder / "data"),
        ],
        port,
        dict(os.environ),
        folder / "ferretdb.log",
    )


def private_broker(folder: Path) -> PrivateServer:
    """A second RabbitMQ node (own name, ports and data) beside the shared one."""
    port, dist_port = free_port(), free_port()
    for sub in ("mnesia", "log", "home"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "rabbitmq.conf").write_text(f"listeners.tcp.1 = 127.0.0.1:{port}\nloopback_users = none\n")
    (folder / "enabled_plugins").write_text("[].\n")
    env = {
        **os.environ,
        "HOME": str(folder / "home"),
        "RABBITMQ_NODENAME": f"{unique('t')}@localhost",
        "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
        "RABBITMQ_LOG_BASE": str(folder / "log"),
        "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_LOGS": "-",
    }
    return PrivateServer(
        "rabbitmq", ["/usr/lib/rabbitmq/bin/rabbitmq-server"], port, env, folder / "rabbitmq.log"
    )


def private_smtp_sink(folder: Path) -> PrivateServer:
    """An SMTP sink of a test's own, writing into ``folder / "mail"`` (a Maildir)."""
    port = free_port()
    env = {**os.environ, "LETHE_SMTP_PORT": str(port), "LETHE_MAILDIR": str(folder / "mail")}
    return PrivateServer(
        "smtp-sink",
        [sys.executable, str(ROOT / "tools" / "smtp_sink.py")],
        port,
        env,
        folder / "smtp-sink.log",
    )
