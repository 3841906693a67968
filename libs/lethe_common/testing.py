"""Helpers for Lethe's tests: real processes on free ports, waiting without sleeping blindly.

Only tests import this module. Everything runs against the real store and
broker that ``tools/stack.py test`` started (their URLs are in the environment).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

BACKENDS = ("identity", "consent", "shop", "newsletter")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def wait_for(predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.1,
             what: str = "condition") -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - loopback
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


@dataclass
class ServiceProcess:
    """One Lethe process (``python -m module``) with its own log file."""

    name: str
    module: str
    env: dict[str, str]
    log_path: Path
    ready_url: str
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> ServiceProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child writes to it
        self.popen = subprocess.Popen([sys.executable, "-m", self.module], env=self.env,
                                      stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    def wait_ready(self, timeout: float = 30.0) -> ServiceProcess:
        def ready() -> bool:
            if self.popen is not None and self.popen.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.log()[-2000:]}")
            return http_status(self.ready_url) == 200
        wait_for(ready, timeout, what=f"{self.name} to be ready")
        return self

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.popen is None or self.popen.poll() is not None:
            return None if self.popen is None else self.popen.returncode
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to clean up."""
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Backend:
    """The API and worker processes of one backend service, on free ports."""

    service: str
    api: ServiceProcess
    worker: ServiceProcess
    grpc_port: int
    db_name: str

    @property
    def grpc_addr(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def queue_group(self) -> str:
        return f"{self.api.env['LETHE_QUEUE_PREFIX']}{self.service}"


def backend_env(service: str, run_id: str, base: Mapping[str, str] | None = None,
                **overrides: str) -> tuple[dict[str, str], int, int, int]:
    """Environment for one backend on free ports, with its own database and queues."""
    env = dict(os.environ if base is None else base)
    prefix = service.upper()
    grpc_port, api_metrics, worker_metrics = free_port(), free_port(), free_port()
    env.update({
        f"{prefix}_GRPC_PORT": str(grpc_port),
        f"{prefix}_API_METRICS_PORT": str(api_metrics),
        f"{prefix}_WORKER_METRICS_PORT": str(worker_metrics),
        f"{prefix}_MONGO_DB": f"test_{run_id}_{service}",
        "LETHE_QUEUE_PREFIX": f"{run_id}.",
        "LETHE_OUTBOX_GRACE_SECONDS": "1",
        "LETHE_OUTBOX_LEASE_SECONDS": "3",
        "LETHE_CONSUMER_RETRY_BASE_SECONDS": "0.2",
        **overrides,
    })
    return env, grpc_port, api_metrics, worker_metrics


def delete_consumer_queues(amqp_url: str, group: str, max_attempts: int = 5) -> None:
    """Remove a test consumer group's durable queues from the broker."""
    from kombu import Connection

    with Connection(amqp_url) as connection:
        channel = connection.channel()
        names = [f"{group}.inbox", f"{group}.dead",
                 *(f"{group}.retry.{n}" for n in range(1, max_attempts))]
        for name in names:
            channel.queue_delete(queue=name)


def start_backend(service: str, run_id: str, log_dir: Path, *, start_worker: bool = True,
                  **overrides: str) -> Backend:
    env, grpc_port, api_metrics, worker_metrics = backend_env(service, run_id, None, **overrides)
    api = ServiceProcess(f"{service}-api", f"lethe_{service}.api", env,
                         log_dir / f"{service}-api.log",
                         f"http://127.0.0.1:{api_metrics}/readyz").start()
    worker = ServiceProcess(f"{service}-worker", f"lethe_{service}.worker", env,
                            log_dir / f"{service}-worker.log",
                            f"http://127.0.0.1:{worker_metrics}/readyz")
    if start_worker:
        worker.start()
    return Backend(service, api, worker, grpc_port, env[f"{service.upper()}_MONGO_DB"])


class EventTap:
    """A private queue bound to ``<source>.events``: what a consumer would receive."""

    def __init__(self, amqp_url: str, source: str, routing_key: str = "#") -> None:
        from kombu import Connection, Queue

        from lethe_common.events.publisher import events_exchange

        self._connection = Connection(amqp_url)
        self._channel = self._connection.channel()
        self.queue = Queue(unique("tap"), exchange=events_exchange(source), routing_key=routing_key,
                           exclusive=True, auto_delete=True).bind(self._channel)
        self.queue.declare()

    def drain(self, timeout: float = 0.5) -> list[dict[str, object]]:
        """Every body that arrives until ``timeout`` passes without a new one."""
        bodies = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.queue.get(no_ack=True, accept=["json"])
            if message is None:
                time.sleep(0.05)
                continue
            bodies.append(message.decode())
            deadline = time.monotonic() + timeout
        return bodies

    def wait_for_ids(self, ids: set[str], timeout: float = 20.0) -> list[dict[str, object]]:
        """Collect bodies until every id in ``ids`` was seen, then a short while longer."""
        seen: list[dict[str, object]] = []

        def all_seen() -> bool:
            seen.extend(self.drain(0.2))
            return ids <= {str(body.get("id")) for body in seen}
        wait_for(all_seen, timeout, what=f"events {sorted(ids)}")
        seen.extend(self.drain(0.5))
        return [body for body in seen if body.get("id") in ids]

    def __enter__(self) -> EventTap:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._connection.release()


@dataclass
class Stack:
    """Every backend (API and worker) and a gateway, for one test module."""

    run_id: str
    backends: dict[str, Backend]
    gateway: ServiceProcess
    gateway_url: str

    def processes(self) -> list[ServiceProcess]:
        return [p for b in self.backends.values() for p in (b.api, b.worker)] + [self.gateway]


def start_gateway(backends: dict[str, Backend], log_dir: Path,
                  **overrides: str) -> tuple[ServiceProcess, str]:
    port = free_port()
    env = {**os.environ, "LETHE_GATEWAY_PORT": str(port), **overrides}
    env.update({f"{name.upper()}_GRPC_ADDR": b.grpc_addr for name, b in backends.items()})
    gateway = ServiceProcess("gateway", "lethe_gateway.main", env, log_dir / "gateway.log",
                             f"http://127.0.0.1:{port}/healthz").start()
    return gateway, f"http://127.0.0.1:{port}"


def start_stack(run_id: str, log_dir: Path, **overrides: str) -> Stack:
    """Start every backend and a gateway; if any fails to get ready, remove all of them."""
    backends = {name: start_backend(name, run_id, log_dir, start_worker=True, **overrides)
                for name in BACKENDS}
    gateway, url = start_gateway(backends, log_dir, **overrides)
    stack = Stack(run_id, backends, gateway, url)
    try:
        for process in stack.processes():
            process.wait_ready()
    except BaseException:
        stop_stack(stack)
        raise
    return stack


def stop_stack(stack: Stack) -> None:
    stack.gateway.stop()
    for backend in stack.backends.values():
        remove_backend(backend)


def remove_backend(backend: Backend) -> None:
    """Stop a test backend's processes and delete its database and queues."""
    from lethe_common import mongo

    backend.api.stop()
    backend.worker.stop()
    with contextlib.suppress(Exception):  # its broker may be a private one that is gone
        delete_consumer_queues(backend.api.env["LETHE_AMQP_URL"], backend.queue_group)
    client = mongo.connect(backend.api.env["LETHE_MONGO_URL"], "lethe-tests", timeout_ms=1000)
    with contextlib.suppress(Exception):  # likewise its store
        client.drop_database(backend.db_name)
    client.close()


@contextmanager
def running_backend(service: str, log_dir: Path, **overrides: str) -> Iterator[Backend]:
    """One backend's API and worker, ready; removed afterwards."""
    backend = start_backend(service, unique("svc"), log_dir, start_worker=True, **overrides)
    try:
        backend.api.wait_ready()
        backend.worker.wait_ready()
        yield backend
    finally:
        remove_backend(backend)


def worker_metrics(backend: Backend) -> str:
    """The text of the worker's /metrics."""
    with urllib.request.urlopen(backend.worker.ready_url.replace("/readyz", "/metrics"),  # noqa: S310
                                timeout=5) as response:
        return str(response.read().decode())


ROOT = Path(__file__).resolve().parents[2]


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
        self.popen = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
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
    return PrivateServer("ferretdb", [str(ROOT / "var" / "bin" / "lethe-ferretdb"), "-listen",
                                      f"127.0.0.1:{port}", "-data", str(folder / "data")],
                         port, dict(os.environ), folder / "ferretdb.log")


def private_broker(folder: Path) -> PrivateServer:
    """A second RabbitMQ node (own name, ports and data) beside the shared one."""
    port, dist_port = free_port(), free_port()
    for sub in ("mnesia", "log", "home"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "rabbitmq.conf").write_text(f"listeners.tcp.1 = 127.0.0.1:{port}\nloopback_users = none\n")
    (folder / "enabled_plugins").write_text("[].\n")
    env = {**os.environ, "HOME": str(folder / "home"), "RABBITMQ_NODENAME": f"{unique('t')}@localhost",
           "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"), "RABBITMQ_LOG_BASE": str(folder / "log"),
           "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq"),
           "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
           "RABBITMQ_DIST_PORT": str(dist_port), "ERL_EPMD_ADDRESS": "127.0.0.1", "RABBITMQ_LOGS": "-"}
    return PrivateServer("rabbitmq", ["/usr/lib/rabbitmq/bin/rabbitmq-server"], port, env,
                         folder / "rabbitmq.log")


def mails_to(address: str, maildir: Path | None = None, kind: str = "") -> list[EmailMessage]:
    """Messages in the SMTP sink's Maildir addressed to ``address``, oldest first."""
    folder = maildir or Path(os.environ["LETHE_MAILDIR"])
    found = []
    for sub in ("new", "cur"):
        for path in sorted((folder / sub).glob("*"), key=lambda p: p.stat().st_mtime_ns) \
                if (folder / sub).is_dir() else ():
            message = message_from_bytes(path.read_bytes(), policy=default_policy)
            if not isinstance(message, EmailMessage) or message["To"] != address:
                continue
            if kind and message["X-Lethe-Mail"] != kind:
                continue
            found.append(message)
    return found


def wait_for_mail(address: str, kind: str = "", count: int = 1,
                  timeout: float = 15.0) -> EmailMessage:
    """The ``count``-th mail of ``kind`` to ``address``, once it has arrived."""
    def arrived() -> list[EmailMessage]:
        mails = mails_to(address, kind=kind)
        return mails if len(mails) >= count else []
    return wait_for(arrived, timeout, what=f"mail number {count} ({kind or 'any'})")[count - 1]


def mail_text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    return str(body.get_content()) if body is not None else ""


def token_in(message: EmailMessage) -> str:
    """The token of the link in a mail."""
    import re

    found = re.search(r"token=([A-Za-z0-9_-]{43})", mail_text(message))
    if found is None:
        raise AssertionError("no token link in the mail")
    return found.group(1)


class Browser:
    """A web client of the gateway that keeps cookies and sends the CSRF header, as the
    portal's pages do."""

    def __init__(self, base_url: str, **headers: str) -> None:
        import httpx

        self.http = httpx.Client(base_url=base_url, timeout=30, headers=headers)

    def _csrf(self) -> dict[str, str]:
        token = self.http.cookies.get("lethe_csrf")
        return {"X-CSRF-Token": token} if token else {}

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self._csrf(), **kwargs.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def current_version(self, purpose: str) -> str:
        texts = self.get("/api/v1/consent-texts").json()
        return str(next(t["version"] for t in texts if t["purpose"] == purpose))

    def sign_up(self, email: str, password: str, name: str = "Ada Lovelace") -> dict[str, Any]:
        """Register, verify from the Maildir and log in; returns the profile."""
        registered = self.post("/api/v1/accounts", json={
            "email": email, "password": password, "name": name,
            "account_consent_version": self.current_version("account")})
        assert registered.status_code == 201, registered.text
        token = token_in(wait_for_mail(email, "verification"))
        verified = self.post("/api/v1/accounts/verify", json={"token": token, "password": password})
        assert verified.status_code == 200, verified.text
        logged_in = self.post("/api/v1/session", json={"email": email, "password": password})
        assert logged_in.status_code == 200, logged_in.text
        return dict(logged_in.json())

    def close(self) -> None:
        self.http.close()
