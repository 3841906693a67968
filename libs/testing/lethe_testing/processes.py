"""Real service processes on free ports: one backend, or the whole stack with its gateway.

Everything runs against the real store and broker that ``tools/stack.py test``
started (their URLs are in the environment)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import grpc

from lethe_common.grpc_client import channel_options, target
from lethe_testing.waiting import free_port, http_status, unique, wait_for

BACKENDS = ("identity", "consent", "shop", "newsletter", "analytics")


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
        self.popen = subprocess.Popen(
            [sys.executable, "-m", self.module],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
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


# Every test backend runs this many API and worker processes, so every test exercises
# replicas: calls spread round-robin over the APIs, events over the workers.
REPLICAS = int(os.environ.get("LETHE_TEST_REPLICAS", "2"))


@dataclass
class Backend:
    """The API and worker processes of one backend service (``replicas`` of each), on free
    ports, sharing one database and one consumer group."""

    service: str
    apis: list[ServiceProcess]
    workers: list[ServiceProcess]
    grpc_ports: list[int]
    db_name: str

    @property
    def api(self) -> ServiceProcess:
        """The first API replica (tests that stop or read one process)."""
        return self.apis[0]

    @api.setter
    def api(self, process: ServiceProcess) -> None:
        self.apis[0] = process

    @property
    def worker(self) -> ServiceProcess:
        """The first worker replica."""
        return self.workers[0]

    @worker.setter
    def worker(self, process: ServiceProcess) -> None:
        self.workers[0] = process

    def kill_workers(self) -> None:
        """SIGKILL every worker replica: no consumer, no relay, no sweep of this service runs."""
        for worker in self.workers:
            worker.kill()

    def restart_workers(self) -> None:
        """Start every worker replica again (after :meth:`kill_workers`) and wait for them."""
        self.workers = [replace(worker).start() for worker in self.workers]
        for worker in self.workers:
            worker.wait_ready()

    def stop_apis(self) -> None:
        for api in self.apis:
            api.stop()

    def restart_apis(self) -> None:
        self.apis = [replace(api).start() for api in self.apis]
        for api in self.apis:
            api.wait_ready()

    @property
    def grpc_port(self) -> int:
        return self.grpc_ports[0]

    @property
    def grpc_addr(self) -> str:
        """Every API replica, as the gateway and peers are told of them (comma-separated)."""
        return ",".join(f"127.0.0.1:{port}" for port in self.grpc_ports)

    def channel(self) -> grpc.Channel:
        """A channel that spreads calls round-robin over the API replicas that serve."""
        return grpc.insecure_channel(target(self.grpc_addr), options=channel_options())

    @property
    def queue_group(self) -> str:
        return f"{self.api.env['LETHE_QUEUE_PREFIX']}{self.service}"


def backend_env(
    service: str, run_id: str, base: Mapping[str, str] | None = None, grpc_port: int = 0, **overrides: str
) -> tuple[dict[str, str], int, int, int]:
    """Environment for one backend process on free ports (``grpc_port`` if given), with its
    own database and queues (the same for every replica of one run). It connects to the
    broker as the service's own user when the test stack made one (``LETHE_AMQP_URL_<SERVICE>``,
    see tools/stack_broker.py); ``LETHE_AMQP_URL`` in ``overrides`` wins."""
    env = dict(os.environ if base is None else base)
    prefix = service.upper()
    if own_user := env.get(f"LETHE_AMQP_URL_{prefix}"):
        env["LETHE_AMQP_URL"] = own_user
    grpc_port, api_metrics, worker_metrics = grpc_port or free_port(), free_port(), free_port()
    env.update(
        {
            f"{prefix}_GRPC_PORT": str(grpc_port),
            f"{prefix}_API_METRICS_PORT": str(api_metrics),
            f"{prefix}_WORKER_METRICS_PORT": str(worker_metrics),
            f"{prefix}_MONGO_DB": f"test_{run_id}_{service}",
            "LETHE_QUEUE_PREFIX": f"{run_id}.",
            "LETHE_OUTBOX_GRACE_SECONDS": "1",
            "LETHE_OUTBOX_LEASE_SECONDS": "3",
            "LETHE_CONSUMER_RETRY_BASE_SECONDS": "0.2",
            **overrides,
        }
    )
    return env, grpc_port, api_metrics, worker_metrics


def delete_consumer_queues(amqp_url: str, group: str, max_attempts: int = 5) -> None:
    """Remove a test consumer group's durable queues and its retry exchange from the broker."""
    from kombu import Connection

    with Connection(amqp_url) as connection:
        channel = connection.channel()
        names = [f"{group}.inbox", f"{group}.dead", *(f"{group}.retry.{n}" for n in range(1, max_attempts))]
        for name in names:
            channel.queue_delete(queue=name)
        channel.exchange_delete(exchange=f"{group}.retry")


def start_backend(
    service: str,
    run_id: str,
    log_dir: Path,
    *,
    start_worker: bool = True,
    replicas: int = 0,
    grpc_ports: Sequence[int] = (),
    **overrides: str,
) -> Backend:
    """Start ``replicas`` (default :data:`REPLICAS`) API and worker processes of ``service``
    (the API replicas on ``grpc_ports`` when given)."""
    apis, workers, ports = [], [], []
    for n in range(1, (replicas or REPLICAS) + 1):
        chosen = grpc_ports[n - 1] if len(grpc_ports) >= n else 0
        env, grpc_port, api_metrics, worker_metrics = backend_env(service, run_id, None, chosen, **overrides)
        suffix = "" if n == 1 else f"-{n}"
        apis.append(
            ServiceProcess(
                f"{service}-api{suffix}",
                f"lethe_{service}.api",
                env,
                log_dir / f"{service}-api{suffix}.log",
                f"http://127.0.0.1:{api_metrics}/readyz",
            ).start()
        )
        workers.append(
            ServiceProcess(
                f"{service}-worker{suffix}",
                f"lethe_{service}.worker",
                env,
                log_dir / f"{service}-worker{suffix}.log",
                f"http://127.0.0.1:{worker_metrics}/readyz",
            )
        )
        ports.append(grpc_port)
    if start_worker:
        for worker in workers:
            worker.start()
    return Backend(service, apis, workers, ports, apis[0].env[f"{service.upper()}_MONGO_DB"])


@dataclass
class Stack:
    """Every backend (API and worker) and a gateway, for one test module."""

    run_id: str
    backends: dict[str, Backend]
    gateway: ServiceProcess
    gateway_url: str

    def processes(self) -> list[ServiceProcess]:
        return [p for b in self.backends.values() for p in (*b.apis, *b.workers)] + [self.gateway]


def start_gateway(
    backends: dict[str, Backend], log_dir: Path, port: int = 0, **overrides: str
) -> tuple[ServiceProcess, str]:
    port = port or free_port()
    env = {**os.environ, "LETHE_GATEWAY_PORT": str(port), **overrides}
    env.update({f"{name.upper()}_GRPC_ADDR": b.grpc_addr for name, b in backends.items()})
    gateway = ServiceProcess(
        "gateway", "lethe_gateway.api", env, log_dir / "gateway.log", f"http://127.0.0.1:{port}/healthz"
    ).start()
    return gateway, f"http://127.0.0.1:{port}"


def start_stack(run_id: str, log_dir: Path, **overrides: str) -> Stack:
    """Start every backend and a gateway; if any fails to get ready, remove all of them."""
    backends: dict[str, Backend] = {}
    gateway_port = free_port()  # known first: links and the payment provider's calls point to it
    overrides = {
        "LETHE_PUBLIC_URL": f"http://127.0.0.1:{gateway_port}",
        "LETHE_LOG_DIR": str(log_dir),
        "LETHE_GATEWAY_ACCESS_LOG_DIR": str(log_dir / "access"),  # as `make up` has it
        # Every test client is 127.0.0.1: a module registers more people than a real client
        # would (the limit itself: tests/test_enumeration.py, identity's own tests).
        "IDENTITY_ACCOUNT_MAILS_PER_CLIENT": "100000",
        **overrides,
    }
    # Every API's ports are chosen first: each backend knows where all the others listen
    # (newsletter calls consent, consent's proof of erasure calls everyone).
    ports = {name: [free_port() for _ in range(REPLICAS)] for name in BACKENDS}
    peers = {
        f"{name.upper()}_GRPC_ADDR": ",".join(f"127.0.0.1:{port}" for port in chosen)
        for name, chosen in ports.items()
    }
    for name in BACKENDS:
        backends[name] = start_backend(
            name,
            run_id,
            log_dir,
            start_worker=True,
            replicas=REPLICAS,
            grpc_ports=ports[name],
            **{**peers, **overrides},
        )
    gateway, url = start_gateway(backends, log_dir, gateway_port, **overrides)
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

    for process in (*backend.apis, *backend.workers):
        process.stop()
    with contextlib.suppress(Exception):  # its broker may be a private one that is gone
        delete_consumer_queues(backend.api.env["LETHE_AMQP_URL"], backend.queue_group)
    client = mongo.connect(backend.api.env["LETHE_MONGO_URL"], "lethe-tests", timeout_ms=1000)
    with contextlib.suppress(Exception):  # likewise its store
        client.drop_database(backend.db_name)
    client.close()


@contextmanager
def running_backend(service: str, log_dir: Path, **overrides: str) -> Iterator[Backend]:
    """One backend's API and worker, ready; removed afterwards."""
    backend = start_backend(
        service, unique("svc"), log_dir, start_worker=True, replicas=REPLICAS, grpc_ports=(), **overrides
    )
    try:
        for process in (*backend.apis, *backend.workers):
            process.wait_ready()
        yield backend
    finally:
        remove_backend(backend)


def metric_total(backend: Backend, name: str, **labels: str) -> float:
    """The sum over ``backend``'s API replicas of the samples of ``name`` that carry every
    label given (a counter's total across replicas)."""
    total = 0.0
    for api in backend.apis:
        if api.popen is None or api.popen.poll() is not None:
            continue
        url = api.ready_url.replace("/readyz", "/metrics")
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback http
            text = str(response.read().decode())
        for line in text.splitlines():
            sample, _, value = line.rpartition(" ")
            if sample.split("{")[0] == name and all(f'{k}="{v}"' in sample for k, v in labels.items()):
                total += float(value)
    return total


def worker_metrics(backend: Backend) -> str:
    """The text of every worker replica's /metrics, one after the other."""
    texts = []
    for worker in backend.workers:
        if worker.popen is None or worker.popen.poll() is not None:
            continue
        url = worker.ready_url.replace("/readyz", "/metrics")
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback http
            texts.append(str(response.read().decode()))
    return "\n".join(texts)
