"""Lethe's dev stack on 127.0.0.1: infrastructure and every service process.

    stack.py up                  infrastructure + all services, in the foreground; Ctrl-C stops
    stack.py test -- ARGS        infrastructure, then pytest ARGS with the stack's environment
    stack.py run -- CMD ...      infrastructure, then any command with the stack's environment
    stack.py down                stop everything any run of this script started
    stack.py env                 print the environment the processes get

Every stack has a name (``LETHE_STACK``; by default one made of this checkout's folder
name and path) and keeps everything under var/stacks/<name>/: the store's data, the
broker's node and its vhost, the Maildir, the downloads, logs and pid files; its
databases and its vhost carry the name too. So two checkouts, or two named stacks of one
checkout (on other ports: ``LETHE_PORT_OFFSET``), never share data.

``up`` starts its infrastructure (FerretDB, RabbitMQ with its epmd, the SMTP sink, the
fake payment provider and supplier of tools/fakes/) on the default ports plus
``LETHE_PORT_OFFSET`` and refuses to start when another process holds one of them (an
epmd, the Erlang name service, is shared). ``test`` and ``run`` start a private stack of
their own on free ports, so they never borrow a running ``make up``'s servers (of this or
any checkout), and remove its data afterwards.

Every process this script starts gets a pid file in var/stacks/<name>/run/<owner>/
holding its pid and its start time, and is stopped through its process group; nothing is
ever found or killed by name.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
STACKS = VAR / "stacks"
LEGACY_RUN = VAR / "run"  # pid files of runs before stacks had names
VENV_PY = ROOT / ".venv" / "bin" / "python"
BACKENDS = {
    "identity": (50051, 9101, 9201),
    "consent": (50052, 9102, 9202),
    "shop": (50053, 9103, 9203),
    "newsletter": (50054, 9104, 9204),
    "analytics": (50056, 9106, 9206),  # 50055/9105: the gateway's place in the pattern
}
# The settings of Lethe's processes: what `stack.py env` prints and a clean environment lacks.
ENV_PREFIXES = ("LETHE_", "GATEWAY_", *(f"{name.upper()}_" for name in BACKENDS))
REPLICA_PORT_STEP = 10  # replica n of a backend listens on its base ports + 10 * (n - 1)
INFRA_PORTS = {
    "LETHE_MONGO_PORT": 27018,
    "LETHE_AMQP_PORT": 5672,
    "LETHE_AMQP_DIST_PORT": 25673,
    "LETHE_EPMD_PORT": 4369,
    "LETHE_SMTP_PORT": 2525,
    "LETHE_GATEWAY_PORT": 8080,
    "LETHE_PAYMENT_PORT": 8090,
    "LETHE_SUPPLIER_PORT": 8091,
}
# `up` only (not the private stacks of `test`/`run`): the gateway's metrics port and the
# stack's Prometheus (tools/stack_prometheus.py), + LETHE_PORT_OFFSET like the others.
MONITORING_PORTS = {"GATEWAY_METRICS_PORT": 9105, "LETHE_PROMETHEUS_PORT": 9090}
STACK_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
PRIVATE_PORTS = range(20000, 32768)  # below Linux's ephemeral range, so no client takes one


# -- the stack's name and place ------------------------------------------------
def checkout_stack_name(root: Path) -> str:
    """The default stack name: this checkout's folder name and a hash of its path."""
    slug = re.sub(r"[^a-z0-9]+", "-", root.name.lower()).strip("-")[:24] or "lethe"
    return f"{slug}-{hashlib.sha256(str(root).encode()).hexdigest()[:6]}"


def stack_name(env: dict[str, str]) -> str:
    name = env.get("LETHE_STACK") or checkout_stack_name(ROOT)
    if not STACK_NAME.fullmatch(name):
        raise SystemExit(
            f"LETHE_STACK must be 1 to 40 of a-z, 0-9 and '-', starting with a letter or digit; got {name!r}"
        )
    return name


@dataclass(frozen=True)
class Place:
    """Where the stack ``name`` keeps everything: var/stacks/<name>/."""

    name: str

    @property
    def root(self) -> Path:
        return STACKS / self.name

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def logs(self) -> Path:
        return self.root / "log"

    @property
    def rabbitmq(self) -> Path:
        return self.root / "rabbitmq"

    @property
    def node(self) -> str:
        return f"lethe-{self.name}@localhost"

    @property
    def vhost(self) -> str:
        return self.name

    def database(self, service: str) -> str:
        return f"{self.name.replace('-', '_')}_{service}"


# -- environment -----------------------------------------------------------
def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file; comments and blank lines ignored."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def stack_env(place: Place | None = None, private: bool = False) -> dict[str, str]:
    """os.environ over .env over the dev defaults: what every process gets.

    A ``private`` stack (``test``, ``run``) takes free ports and its own names for
    everything, whatever the environment says; otherwise the environment may set each.
    """
    env = {**read_dotenv(ROOT / ".env"), **os.environ}
    place = place or Place(stack_name(env))
    put = env.__setitem__ if private else env.setdefault
    env["LETHE_STACK"] = place.name
    offset = port_offset(env)
    taken: set[int] = set()
    for key, port in INFRA_PORTS.items():
        put(key, str(free_port(taken) if private else port + offset))
    if private:  # no backends run; their addresses lead nowhere a running stack listens
        for name in BACKENDS:
            put(f"{name.upper()}_GRPC_ADDR", f"127.0.0.1:{free_port(taken)}")
    elif offset:
        for name, ports in BACKENDS.items():
            for role, port in zip(("GRPC", "API_METRICS", "WORKER_METRICS"), ports, strict=True):
                put(f"{name.upper()}_{role}_PORT", str(port + offset))
    for key, port in MONITORING_PORTS.items():
        if private:  # the tests' gateways choose their own metrics ports, if any
            env.pop(key, None)
        else:
            put(key, str(port + offset))
    put("LETHE_MONGO_URL", f"mongodb://127.0.0.1:{env['LETHE_MONGO_PORT']}/")
    put("LETHE_AMQP_URL", f"amqp://guest:guest@127.0.0.1:{env['LETHE_AMQP_PORT']}/{place.vhost}")
    for key, url in service_amqp_urls(place, env).items():
        put(key, url)
    put("LETHE_MAILDIR", str(place.root / "mail"))
    put("LETHE_LOG_DIR", str(place.logs))
    put("SHOP_PAYMENT_URL", f"http://127.0.0.1:{env['LETHE_PAYMENT_PORT']}")
    put("LETHE_GATEWAY_PAYMENT_PAGE_URL", env["SHOP_PAYMENT_URL"])  # the browser's card page
    put("SHOP_SUPPLIER_URL", f"http://127.0.0.1:{env['LETHE_SUPPLIER_PORT']}")
    put("SHOP_DOWNLOADS_DIR", str(place.root / "downloads"))
    for name in BACKENDS:
        put(f"{name.upper()}_MONGO_DB", place.database(name))
    for name, file in (
        ("LETHE_SUBJECT_PEPPER", "subject_pepper"),
        ("SHOP_PAYMENT_API_KEY", "payment_api_key"),
        ("SHOP_PAYMENT_WEBHOOK_SECRET", "payment_webhook_secret"),
        ("SHOP_SUPPLIER_API_KEY", "supplier_api_key"),
    ):
        if not env.get(name):
            env[name] = local_secret(file)
    if not env.get("IDENTITY_STAFF_SIGNING_KEY"):
        env["IDENTITY_STAFF_SIGNING_KEY"] = local_secret("staff_signing_key")
    if not env.get("LETHE_STAFF_VERIFY_KEY"):
        env["LETHE_STAFF_VERIFY_KEY"] = staff_verify_key(env["IDENTITY_STAFF_SIGNING_KEY"])
    env.setdefault("PYTHONUNBUFFERED", "1")
    for name, addresses in replica_addresses(env).items():
        env.setdefault(name, addresses)
    return env


def own_broker(place: Place, env: dict[str, str]) -> bool:
    """Whether ``LETHE_AMQP_URL`` is this stack's own broker and vhost (not one the
    environment chose)."""
    return env["LETHE_AMQP_URL"].endswith(f":{env['LETHE_AMQP_PORT']}/{place.vhost}")


def service_amqp_users(place: Place) -> dict[str, tuple[str, str]]:
    """Each backend's broker user and password: ``<stack>-<service>`` (users are broker-wide,
    vhosts are the stack's), its password a secret of this checkout. The guest user stays
    for the tests and tools; the services never use it (tools/stack_broker.py)."""
    return {name: (f"{place.vhost}-{name}", local_secret(f"amqp_{name}")) for name in BACKENDS}


def service_amqp_urls(place: Place, env: dict[str, str]) -> dict[str, str]:
    """``LETHE_AMQP_URL_<SERVICE>``: how each backend's processes reach the stack's broker."""
    if not own_broker(place, env):
        return {}
    return {
        f"LETHE_AMQP_URL_{name.upper()}": f"amqp://{user}:{password}@127.0.0.1:{env['LETHE_AMQP_PORT']}/{place.vhost}"
        for name, (user, password) in service_amqp_users(place).items()
    }


def port_offset(env: dict[str, str]) -> int:
    """``LETHE_PORT_OFFSET``: added to every default port, so a second stack can run."""
    raw = env.get("LETHE_PORT_OFFSET", "0")
    if not raw.isdigit() or int(raw) > 10000:
        raise SystemExit(f"LETHE_PORT_OFFSET must be a whole number from 0 to 10000; got {raw!r}")
    return int(raw)


def free_port(taken: set[int]) -> int:
    """A port nothing listens on, not in ``taken``; chosen at random below the ephemeral
    range."""
    for _ in range(1000):
        port = PRIVATE_PORTS.start + secrets.randbelow(len(PRIVATE_PORTS))
        if port in taken or port_open(port) or not _bindable(port):
            continue
        taken.add(port)
        return port
    raise SystemExit("no free port found")


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def staff_verify_key(signing_key: str) -> str:
    """The verify key every service checks staff assertions with (lethe_common.staff)."""
    from lethe_common.staff import verify_key_of  # the venv's, once ``make setup`` has run

    return verify_key_of(signing_key)


def local_secret(name: str) -> str:
    """A secret of this checkout, made once under var/secrets/ (never committed)."""
    path = VAR / "secrets" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


# -- probes ----------------------------------------------------------------
def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
            return bool(response.status == 200)
    except OSError:
        return False


# -- pid files -------------------------------------------------------------
def start_time(pid: int) -> str | None:
    """The kernel's start time of a live ``pid`` (field 22 of /proc/pid/stat), or None
    when there is no such process or it has exited and only waits to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else fields[19]


def write_pid(folder: Path, name: str, pid: int) -> None:
    """Record ``pid`` and its start time in ``folder``/<name>.pid (folder: one owner's)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.pid").write_text(f"{pid} {start_time(pid) or ''}\n")


def _read_pidfile(pidfile: Path) -> tuple[int, str] | None:
    fields = pidfile.read_text().split()
    if len(fields) != 2:
        return None  # no start time recorded: identity cannot be checked, so never signal
    return int(fields[0]), fields[1]


def _signal_group(pid: int, recorded: str, signum: int) -> bool:
    """Signal the process group ``pid`` leads, if it is still the one we started.

    A leader that has exited keeps its pid reserved while members of its group
    live on, so signalling the group then reaches only our leftovers; a pid that
    now belongs to another process (another start time) is left alone.
    """
    current = start_time(pid)
    if current is not None and current != recorded:
        return False
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        return False
    return True


def _group_alive(pid: int, recorded: str) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap our own child, if it is one
    current = start_time(pid)
    if current is not None:
        return current == recorded
    try:
        os.killpg(pid, 0)  # members of the group may outlive their leader
    except (ProcessLookupError, PermissionError):
        return False
    return True


def stop_pidfiles(pidfiles: list[Path], timeout: float = 20.0) -> None:
    """SIGTERM every recorded process group at once; SIGKILL what is left after ``timeout``.
    A pid file is removed once its processes are gone."""
    running: list[tuple[Path, int, str]] = []
    for pidfile in pidfiles:
        print(f"  stopping {pidfile.stem}")
        record = _read_pidfile(pidfile)
        if record and _signal_group(*record, signal.SIGTERM):
            running.append((pidfile, *record))
        else:
            pidfile.unlink(missing_ok=True)
    deadline = time.monotonic() + timeout
    while running and time.monotonic() < deadline:
        for entry in [e for e in running if not _group_alive(e[1], e[2])]:
            entry[0].unlink(missing_ok=True)
            running.remove(entry)
        time.sleep(0.1)
    for pidfile, pid, recorded in running:
        print(f"  {pidfile.stem} (pid {pid}) did not stop in {timeout:.0f}s; killing it")
        _signal_group(pid, recorded, signal.SIGKILL)
        pidfile.unlink(missing_ok=True)


INFRA_STOP_ORDER = ("smtp-sink", "rabbitmq", "epmd", "ferretdb")


def stop_owner(folder: Path, only: set[str] | None = None) -> None:
    """Stop what the owner whose pid files are in ``folder`` started (or the ``only``
    names of it): all services at once, then the infrastructure in order."""
    if not folder.exists():
        return
    pidfiles = {p.stem: p for p in folder.glob("*.pid") if only is None or p.stem in only}
    stop_pidfiles([p for name, p in pidfiles.items() if name not in INFRA_STOP_ORDER])
    for name in INFRA_STOP_ORDER:
        if name in pidfiles:
            stop_pidfiles([pidfiles[name]])


# -- processes -------------------------------------------------------------
class PortTaken(Exception):
    """A port of this stack is held by a process this stack did not start."""


@dataclass
class Component:
    name: str
    argv: list[str]
    ready: Callable[[], bool]
    port: int | None = None  # must be free before the start, unless ``shared``
    shared: bool = False  # epmd: any running one serves every Erlang node on the machine
    extra_env: dict[str, str] = field(default_factory=dict)
    cwd: Path = ROOT
    popen: subprocess.Popen[bytes] | None = None

    def start(self, place: Place, owner: str, env: dict[str, str]) -> None:
        if self.port and port_open(self.port):
            if self.shared:
                print(f"  {self.name}: using the one on port {self.port}")
                return
            raise PortTaken(
                f"port {self.port} ({self.name}) is held by a process this stack did not "
                f"start, perhaps another checkout's `make up`: stop it there (`make down`), "
                f"or run this stack on other ports, e.g. LETHE_PORT_OFFSET=1000 LETHE_STACK=other"
            )
        place.logs.mkdir(parents=True, exist_ok=True)
        log = open(place.logs / f"{self.name}.log", "ab")  # noqa: SIM115 - the child keeps it
        self.popen = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env={**env, **self.extra_env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        write_pid(place.run / owner, self.name, self.popen.pid)

    def exited(self) -> int | None:
        return None if self.popen is None else self.popen.poll()


def infrastructure(place: Place, env: dict[str, str]) -> list[Component]:
    mongo_port = int(env["LETHE_MONGO_PORT"])
    amqp_port = int(env["LETHE_AMQP_PORT"])
    smtp_port = int(env["LETHE_SMTP_PORT"])
    epmd_port = int(env["LETHE_EPMD_PORT"])
    rabbit = place.rabbitmq
    for sub in ("mnesia", "log", "home"):
        (rabbit / sub).mkdir(parents=True, exist_ok=True)
    (rabbit / "rabbitmq.conf").write_text(f"listeners.tcp.1 = 127.0.0.1:{amqp_port}\nloopback_users = none\n")
    (rabbit / "enabled_plugins").write_text("[].\n")
    rabbit_env = {
        **erlang_env(place, env),
        "RABBITMQ_NODENAME": place.node,
        "RABBITMQ_MNESIA_BASE": str(rabbit / "mnesia"),
        "RABBITMQ_LOG_BASE": str(rabbit / "log"),
        "RABBITMQ_CONFIG_FILE": str(rabbit / "rabbitmq"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(rabbit / "enabled_plugins"),
        "RABBITMQ_DIST_PORT": env["LETHE_AMQP_DIST_PORT"],
        "RABBITMQ_LOGS": "-",
        "ERL_CRASH_DUMP": str(rabbit / "log" / "erl_crash.dump"),
    }
    return [
        Component(
            "ferretdb",
            [
                str(VAR / "bin" / "lethe-ferretdb"),
                "-listen",
                f"127.0.0.1:{mongo_port}",
                "-data",
                str(place.root / "ferretdb"),
            ],
            _port_probe(mongo_port),
            port=mongo_port,
        ),
        Component(
            "epmd",
            ["epmd", "-address", "127.0.0.1", "-port", str(epmd_port)],
            _port_probe(epmd_port),
            port=epmd_port,
            shared=True,
        ),
        Component(
            "rabbitmq",
            ["/usr/lib/rabbitmq/bin/rabbitmq-server"],
            _port_probe(amqp_port),
            port=amqp_port,
            extra_env=rabbit_env,
        ),
        Component(
            "smtp-sink",
            [str(VENV_PY), str(ROOT / "tools" / "smtp_sink.py")],
            _port_probe(smtp_port),
            port=smtp_port,
        ),
        *(
            Component(
                name,
                [str(VENV_PY), str(ROOT / "tools" / "fakes" / f"{script}.py")],
                _port_probe(port),
                port=port,
            )
            for name, script, port in (
                ("payment-sandbox", "payment_sandbox", int(env["LETHE_PAYMENT_PORT"])),
                ("supplier", "supplier", int(env["LETHE_SUPPLIER_PORT"])),
            )
        ),
    ]


def erlang_env(place: Place, env: dict[str, str]) -> dict[str, str]:
    """What the broker's node and rabbitmqctl share: the cookie's home and the epmd."""
    return {
        "HOME": str(place.rabbitmq / "home"),
        "ERL_EPMD_PORT": env["LETHE_EPMD_PORT"],
        "ERL_EPMD_ADDRESS": "127.0.0.1",
    }


def _port_probe(port: int) -> Callable[[], bool]:
    return lambda: port_open(port)


def _http_probe(url: str) -> Callable[[], bool]:
    return lambda: http_ok(url)


def replicas(env: dict[str, str]) -> int:
    """How many API and worker processes of each backend run (``LETHE_REPLICAS``, default 2)."""
    count = int(env.get("LETHE_REPLICAS", "2"))
    if not 1 <= count <= REPLICA_PORT_STEP:
        raise SystemExit(f"LETHE_REPLICAS must be 1 to {REPLICA_PORT_STEP}")
    return count


def replica_ports(env: dict[str, str], name: str, replica: int) -> tuple[int, int, int]:
    """gRPC, API metrics and worker metrics ports of replica 1, 2, ...: the base ports
    (README) for the first, then each further replica REPLICA_PORT_STEP higher."""
    prefix = name.upper()
    grpc_port, api_metrics, worker_metrics = BACKENDS[name]
    base = (
        int(env.get(f"{prefix}_GRPC_PORT", grpc_port)),
        int(env.get(f"{prefix}_API_METRICS_PORT", api_metrics)),
        int(env.get(f"{prefix}_WORKER_METRICS_PORT", worker_metrics)),
    )
    step = (replica - 1) * REPLICA_PORT_STEP
    return base[0] + step, base[1] + step, base[2] + step


def replica_addresses(env: dict[str, str]) -> dict[str, str]:
    """``<SERVICE>_GRPC_ADDR`` for every backend: all its API replicas, comma-separated, which
    the gateway (and the newsletter, for consent) call round-robin."""
    return {
        f"{name.upper()}_GRPC_ADDR": ",".join(
            f"127.0.0.1:{replica_ports(env, name, n)[0]}" for n in range(1, replicas(env) + 1)
        )
        for name in BACKENDS
    }


def services(env: dict[str, str]) -> list[Component]:
    components = []
    for name in BACKENDS:
        for n in range(1, replicas(env) + 1):
            grpc_port, api_port, worker_port = replica_ports(env, name, n)
            ports = {
                f"{name.upper()}_GRPC_PORT": str(grpc_port),
                f"{name.upper()}_API_METRICS_PORT": str(api_port),
                f"{name.upper()}_WORKER_METRICS_PORT": str(worker_port),
            }
            if own_user := env.get(f"LETHE_AMQP_URL_{name.upper()}"):
                ports["LETHE_AMQP_URL"] = own_user  # its own broker user, least privilege
            suffix = "" if n == 1 else f"-{n}"
            components += [
                Component(
                    f"{name}-api{suffix}",
                    [str(VENV_PY), "-m", f"lethe_{name}.api"],
                    _http_probe(f"http://127.0.0.1:{api_port}/readyz"),
                    port=grpc_port,
                    extra_env=ports,
                ),
                Component(
                    f"{name}-worker{suffix}",
                    [str(VENV_PY), "-m", f"lethe_{name}.worker"],
                    _http_probe(f"http://127.0.0.1:{worker_port}/readyz"),
                    port=worker_port,
                    extra_env=ports,
                ),
            ]
    gateway_port = int(env["LETHE_GATEWAY_PORT"])
    components.append(
        Component(
            "gateway",
            [str(VENV_PY), "-m", "lethe_gateway.api"],
            _http_probe(f"http://127.0.0.1:{gateway_port}/readyz"),
            port=gateway_port,
            # its access log (lethe_gateway/access_log.py) beside the processes' logs
            extra_env={
                "LETHE_GATEWAY_ACCESS_LOG_DIR": env.get("LETHE_GATEWAY_ACCESS_LOG_DIR")
                or str(Path(env["LETHE_LOG_DIR"]) / "access")
            },
        )
    )
    return components


def monitoring(place: Place, env: dict[str, str]) -> list[Component]:
    """The stack's Prometheus (tools/stack_prometheus.py): it scrapes every process of the
    stack and evaluates deploy/prometheus/rules.yml. Left out when Debian's package is not
    installed (tools/setup.sh installs it)."""
    import stack_prometheus  # beside this file; `stack.py env` runs without it

    if not stack_prometheus.BINARY.exists():
        print(f"  {stack_prometheus.BINARY} is missing (tools/setup.sh installs it): no Prometheus")
        return []
    folder, port = place.root / "prometheus", int(env["LETHE_PROMETHEUS_PORT"])
    targets = stack_prometheus.stack_targets(
        BACKENDS, replicas(env), lambda name, n: replica_ports(env, name, n), int(env["GATEWAY_METRICS_PORT"])
    )
    stack_prometheus.write_config(folder, targets)
    argv, ready = stack_prometheus.argv(folder, port), _http_probe(stack_prometheus.ready_url(port))
    return [Component("prometheus", argv, ready, port=port)]


def wait_ready(
    place: Place, components: list[Component], timeout: float, interrupted: Callable[[], bool] = lambda: False
) -> list[str]:
    """Wait until every component is ready; return the names that are not."""
    deadline = time.monotonic() + timeout
    pending = list(components)
    while pending and time.monotonic() < deadline and not interrupted():
        for component in list(pending):
            code = component.exited()
            if code is not None:
                print(
                    f"  {component.name} exited with code {code}; "
                    f"see {relative(place.logs)}/{component.name}.log"
                )
                return [c.name for c in pending]
            if component.ready():
                pending.remove(component)
        time.sleep(0.2)
    return [c.name for c in pending]


def start_all(
    place: Place,
    owner: str,
    groups: list[list[Component]],
    env: dict[str, str],
    timeout: float,
    interrupted: Callable[[], bool] = lambda: False,
) -> bool:
    for group in groups:
        try:
            for component in group:
                component.start(place, owner, env)
        except PortTaken as taken:
            print(f"  {taken}")
            return False
        not_ready = wait_ready(place, group, timeout, interrupted)
        if not_ready:
            print(f"not ready after {timeout:.0f}s: {', '.join(not_ready)} (logs in {relative(place.logs)}/)")
            return False
    return True


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


# -- commands --------------------------------------------------------------
def _trap_signals() -> list[int]:
    received: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        received.append(signum)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return received


SUPERVISOR = "supervisor"


def cmd_up(timeout: float) -> int:
    env = stack_env()
    place = Place(env["LETHE_STACK"])
    supervisor_pidfile = place.run / SUPERVISOR / "up.pid"
    running = _read_pidfile(supervisor_pidfile) if supervisor_pidfile.exists() else None
    if running and start_time(running[0]) == running[1]:
        print(f"make up of stack {place.name} is already running (pid {running[0]}); `make down` stops it")
        return 1
    stop_owner(place.run / "up")  # leftovers of a run that was killed hard
    received = _trap_signals()
    write_pid(place.run / SUPERVISOR, "up", os.getpid())
    try:
        return _run_up(place, env, timeout, received)
    finally:
        print("stopping")
        stop_owner(place.run / "up")
        supervisor_pidfile.unlink(missing_ok=True)


def _run_up(place: Place, env: dict[str, str], timeout: float, received: list[int]) -> int:
    infra, procs = infrastructure(place, env), [*services(env), *monitoring(place, env)]
    print(f"starting stack {place.name} (everything under {relative(place.root)}/)")
    ok = start_all(place, "up", [infra[:2], infra[2:]], env, timeout, lambda: bool(received))
    ok = ok and use_vhost(place, env)
    ok = ok and start_all(place, "up", [procs], env, timeout, lambda: bool(received))
    if ok:
        print(
            f"\nLethe is up: gateway http://127.0.0.1:{env['LETHE_GATEWAY_PORT']}  "
            f"(/readyz, /api/v1/openapi.json; /metrics on http://127.0.0.1:{env['GATEWAY_METRICS_PORT']})"
        )
        if any(c.name == "prometheus" for c in procs):
            prometheus = f"http://127.0.0.1:{env['LETHE_PROMETHEUS_PORT']}"
            print(f"  prometheus {prometheus}  (targets {prometheus}/targets, alerts {prometheus}/alerts)")
        print(f"  payment sandbox {env['SHOP_PAYMENT_URL']}   supplier {env['SHOP_SUPPLIER_URL']}")
        print(
            f"  store  {env['LETHE_MONGO_URL']} (databases {place.database('*')})   "
            f"broker amqp://127.0.0.1:{env['LETHE_AMQP_PORT']}/{place.vhost}"
        )
        print(f"  smtp 127.0.0.1:{env['LETHE_SMTP_PORT']} -> {env['LETHE_MAILDIR']}")
        for name in BACKENDS:
            ports = [replica_ports(env, name, n) for n in range(1, replicas(env) + 1)]
            print(
                f"  {name:<11} gRPC {', '.join(str(p[0]) for p in ports)}  metrics api "
                f"{', '.join(str(p[1]) for p in ports)}  worker {', '.join(str(p[2]) for p in ports)}"
            )
        print(f"logs in {relative(place.logs)}/; Ctrl-C stops everything\n")
        reported: set[str] = set()
        while not received:
            for component in procs:
                code = component.exited()
                if code is not None and component.name not in reported:
                    reported.add(component.name)
                    print(
                        f"{component.name} exited with code {code}; "
                        f"see {relative(place.logs)}/{component.name}.log"
                    )
            time.sleep(0.5)
    return 0 if ok else 1


def use_vhost(place: Place, env: dict[str, str]) -> bool:
    """Create the stack's vhost on its broker (named after the stack), unless the
    environment chose another broker."""
    if not own_broker(place, env):
        return True  # the caller chose a broker and vhost
    ctl = ["/usr/lib/rabbitmq/bin/rabbitmqctl", "-q", "-n", place.node]
    ctl_env = {**env, **erlang_env(place, env)}
    for args in (
        ["add_vhost", place.vhost],
        ["set_permissions", "-p", place.vhost, "guest", ".*", ".*", ".*"],
    ):
        done = subprocess.run([*ctl, *args], env=ctl_env, capture_output=True, text=True)
        if done.returncode != 0 and "already exists" not in done.stderr + done.stdout:
            print(f"  rabbitmqctl {args[0]} failed: {(done.stderr or done.stdout).strip()[:300]}")
            return False
    return set_up_service_users(place, env, ctl, ctl_env)


def set_up_service_users(place: Place, env: dict[str, str], ctl: list[str], ctl_env: dict[str, str]) -> bool:
    """Every backend's own broker user with least privilege, and every events exchange
    (tools/stack_broker.py). A private stack's users accept any queue prefix: tests give
    each run's consumer groups one."""
    import stack_broker  # needs lethe_common (the venv); `stack.py env` does not

    problem = stack_broker.set_up_users(
        ctl,
        ctl_env,
        place.rabbitmq,
        place.vhost,
        service_amqp_users(place),
        queue_prefix=env.get("LETHE_QUEUE_PREFIX", ""),
        any_queue_prefix=PRIVATE_STACK.fullmatch(place.name) is not None,
    )
    if problem:
        print(f"  rabbitmqctl import_definitions (the services' broker users) failed: {problem}")
        return False
    return True


def cmd_run(argv: list[str], timeout: float) -> int:
    """Start a private stack (free ports, its own data), run ``argv`` with its environment,
    stop it and remove its data (kept when ``argv`` failed, for its logs)."""
    base = stack_name({**read_dotenv(ROOT / ".env"), **os.environ})
    place = Place(f"{base[:30]}-t{os.getpid()}")
    env = stack_env(place, private=True)
    infra, code = infrastructure(place, env), 1
    try:
        if start_all(place, "run", [infra[:2], infra[2:]], env, timeout) and use_vhost(place, env):
            code = subprocess.call(argv, cwd=ROOT, env=env)
        return code
    finally:
        stop_owner(place.run / "run")
        if code == 0:
            shutil.rmtree(place.root, ignore_errors=True)
        else:
            print(f"the private stack's data and logs are kept in {relative(place.root)}/")


def cmd_down() -> int:
    """Stop every stack of this checkout: a running `make up` stops its own processes in
    order when told to; then whatever any run left behind. The data of private stacks goes."""
    places = [Place(p.name) for p in sorted(STACKS.iterdir())] if STACKS.exists() else []
    runs = [place.run for place in places] + [LEGACY_RUN]
    for run in runs:
        supervisor = run / SUPERVISOR / "up.pid"
        if supervisor.exists():
            record = _read_pidfile(supervisor)
            if record and start_time(record[0]) == record[1]:
                os.kill(record[0], signal.SIGTERM)
                deadline = time.monotonic() + 90
                while time.monotonic() < deadline and start_time(record[0]) is not None:
                    time.sleep(0.2)
            supervisor.unlink(missing_ok=True)
    for run in runs:
        if run.exists():
            for owner in sorted(p for p in run.iterdir() if p.is_dir() and p.name != SUPERVISOR):
                stop_owner(owner)
    for place in places:
        if PRIVATE_STACK.fullmatch(place.name):
            shutil.rmtree(place.root, ignore_errors=True)
    return 0


PRIVATE_STACK = re.compile(r".+-t[0-9]+")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("command", choices=["up", "test", "run", "down", "env"])
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for readiness")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.command == "up":
        return cmd_up(args.timeout)
    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
    if args.command == "test":
        return cmd_run([str(VENV_PY), "-m", "pytest", *rest], args.timeout)
    if args.command == "run":
        return cmd_run(rest, args.timeout)
    if args.command == "down":
        return cmd_down()
    env = stack_env()
    if rest:  # `stack.py env LETHE_MAILDIR`: just those values, one a line
        print("\n".join(env.get(name, "") for name in rest))
        return 0
    for key, value in sorted(env.items()):
        if key.startswith(ENV_PREFIXES):
            print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
