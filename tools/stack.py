"""Lethe's dev stack on 127.0.0.1: infrastructure and every service process.

    stack.py up                  infrastructure + all services, in the foreground; Ctrl-C stops
    stack.py test -- ARGS        infrastructure, then pytest ARGS with the stack's environment
    stack.py run -- CMD ...      infrastructure, then any command with the stack's environment
    stack.py down                stop everything any run of this script started
    stack.py env                 print the environment the processes get

Infrastructure (FerretDB, RabbitMQ with its epmd, the SMTP sink, and the fake
payment provider and supplier of tools/fakes/) is reused
when something already answers on its port, and otherwise started with its
data under var/. Every process this script starts gets a pid file in
var/run/<owner>/ holding its pid and its start time, and is stopped through
its process group; nothing is ever found or killed by name.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
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
RUN = VAR / "run"
LOGS = VAR / "log"
VENV_PY = ROOT / ".venv" / "bin" / "python"
BACKENDS = {"identity": (50051, 9101, 9201), "consent": (50052, 9102, 9202),
            "shop": (50053, 9103, 9203), "newsletter": (50054, 9104, 9204)}
REPLICA_PORT_STEP = 10  # replica n of a backend listens on its base ports + 10 * (n - 1)


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


def stack_env() -> dict[str, str]:
    """os.environ over .env over the dev defaults: what every process gets."""
    env = {**read_dotenv(ROOT / ".env"), **os.environ}
    env.setdefault("LETHE_MONGO_PORT", "27018")
    env.setdefault("LETHE_AMQP_PORT", "5672")
    env.setdefault("LETHE_SMTP_PORT", "2525")
    env.setdefault("LETHE_GATEWAY_PORT", "8080")
    env.setdefault("LETHE_MONGO_URL", f"mongodb://127.0.0.1:{env['LETHE_MONGO_PORT']}/")
    env.setdefault("LETHE_AMQP_URL", f"amqp://guest:guest@127.0.0.1:{env['LETHE_AMQP_PORT']}//")
    env.setdefault("LETHE_MAILDIR", str(VAR / "mail"))
    env.setdefault("LETHE_PAYMENT_PORT", "8090")
    env.setdefault("LETHE_SUPPLIER_PORT", "8091")
    env.setdefault("SHOP_PAYMENT_URL", f"http://127.0.0.1:{env['LETHE_PAYMENT_PORT']}")
    env.setdefault("SHOP_SUPPLIER_URL", f"http://127.0.0.1:{env['LETHE_SUPPLIER_PORT']}")
    env.setdefault("SHOP_DOWNLOADS_DIR", str(VAR / "downloads"))
    for name, file in (("LETHE_SUBJECT_PEPPER", "subject_pepper"),
                       ("SHOP_PAYMENT_API_KEY", "payment_api_key"),
                       ("SHOP_PAYMENT_WEBHOOK_SECRET", "payment_webhook_secret"),
                       ("SHOP_SUPPLIER_API_KEY", "supplier_api_key")):
        if not env.get(name):
            env[name] = local_secret(file)
    env.setdefault("PYTHONUNBUFFERED", "1")
    for name, addresses in replica_addresses(env).items():
        env.setdefault(name, addresses)
    return env


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


def write_pid(owner: str, name: str, pid: int) -> None:
    folder = RUN / owner
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


def stop_owner(owner: str, only: set[str] | None = None) -> None:
    """Stop what ``owner`` started (or the ``only`` names of it): all services at once,
    then the infrastructure in order."""
    folder = RUN / owner
    if not folder.exists():
        return
    pidfiles = {p.stem: p for p in folder.glob("*.pid") if only is None or p.stem in only}
    stop_pidfiles([p for name, p in pidfiles.items() if name not in INFRA_STOP_ORDER])
    for name in INFRA_STOP_ORDER:
        if name in pidfiles:
            stop_pidfiles([pidfiles[name]])


# -- processes -------------------------------------------------------------
@dataclass
class Component:
    name: str
    argv: list[str]
    ready: Callable[[], bool]
    reuse_port: int | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    cwd: Path = ROOT
    popen: subprocess.Popen[bytes] | None = None
    reused: bool = False

    def start(self, owner: str, env: dict[str, str]) -> None:
        if self.reuse_port and port_open(self.reuse_port):
            self.reused = True
            print(f"  {self.name}: reusing what answers on port {self.reuse_port}")
            return
        LOGS.mkdir(parents=True, exist_ok=True)
        log = open(LOGS / f"{self.name}.log", "ab")  # noqa: SIM115 - the child keeps it
        self.popen = subprocess.Popen(
            self.argv, cwd=self.cwd, env={**env, **self.extra_env}, stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        write_pid(owner, self.name, self.popen.pid)

    def exited(self) -> int | None:
        return None if self.popen is None else self.popen.poll()


def infrastructure(env: dict[str, str]) -> list[Component]:
    mongo_port = int(env["LETHE_MONGO_PORT"])
    amqp_port = int(env["LETHE_AMQP_PORT"])
    smtp_port = int(env["LETHE_SMTP_PORT"])
    rabbit = VAR / "rabbitmq"
    for sub in ("mnesia", "log", "home"):
        (rabbit / sub).mkdir(parents=True, exist_ok=True)
    (rabbit / "rabbitmq.conf").write_text(
        f"listeners.tcp.1 = 127.0.0.1:{amqp_port}\nloopback_users = none\n")
    (rabbit / "enabled_plugins").write_text("[].\n")
    rabbit_env = {
        "HOME": str(rabbit / "home"), "RABBITMQ_NODENAME": "lethe@localhost",
        "RABBITMQ_MNESIA_BASE": str(rabbit / "mnesia"), "RABBITMQ_LOG_BASE": str(rabbit / "log"),
        "RABBITMQ_CONFIG_FILE": str(rabbit / "rabbitmq"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(rabbit / "enabled_plugins"),
        "RABBITMQ_DIST_PORT": env.get("LETHE_AMQP_DIST_PORT", "25673"),
        "ERL_EPMD_ADDRESS": "127.0.0.1", "RABBITMQ_LOGS": "-",
        "ERL_CRASH_DUMP": str(rabbit / "log" / "erl_crash.dump"),
    }
    return [
        Component("ferretdb", [str(VAR / "bin" / "lethe-ferretdb"),
                               "-listen", f"127.0.0.1:{mongo_port}", "-data", str(VAR / "ferretdb")],
                  lambda: port_open(mongo_port), reuse_port=mongo_port),
        Component("epmd", ["epmd", "-address", "127.0.0.1", "-port", "4369"],
                  lambda: port_open(4369), reuse_port=4369),
        Component("rabbitmq", ["/usr/lib/rabbitmq/bin/rabbitmq-server"],
                  lambda: port_open(amqp_port), reuse_port=amqp_port, extra_env=rabbit_env),
        Component("smtp-sink", [str(VENV_PY), str(ROOT / "tools" / "smtp_sink.py")],
                  lambda: port_open(smtp_port), reuse_port=smtp_port),
        *(Component(name, [str(VENV_PY), str(ROOT / "tools" / "fakes" / f"{script}.py")],
                    _port_probe(port), reuse_port=port)
          for name, script, port in (
              ("payment-sandbox", "payment_sandbox", int(env["LETHE_PAYMENT_PORT"])),
              ("supplier", "supplier", int(env["LETHE_SUPPLIER_PORT"])))),
    ]


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
    base = (int(env.get(f"{prefix}_GRPC_PORT", grpc_port)),
            int(env.get(f"{prefix}_API_METRICS_PORT", api_metrics)),
            int(env.get(f"{prefix}_WORKER_METRICS_PORT", worker_metrics)))
    step = (replica - 1) * REPLICA_PORT_STEP
    return base[0] + step, base[1] + step, base[2] + step


def replica_addresses(env: dict[str, str]) -> dict[str, str]:
    """``<SERVICE>_GRPC_ADDR`` for every backend: all its API replicas, comma-separated, which
    the gateway (and the newsletter, for consent) call round-robin."""
    return {f"{name.upper()}_GRPC_ADDR": ",".join(
        f"127.0.0.1:{replica_ports(env, name, n)[0]}" for n in range(1, replicas(env) + 1))
        for name in BACKENDS}


def services(env: dict[str, str]) -> list[Component]:
    components = []
    for name in BACKENDS:
        for n in range(1, replicas(env) + 1):
            grpc_port, api_port, worker_port = replica_ports(env, name, n)
            ports = {f"{name.upper()}_GRPC_PORT": str(grpc_port),
                     f"{name.upper()}_API_METRICS_PORT": str(api_port),
                     f"{name.upper()}_WORKER_METRICS_PORT": str(worker_port)}
            suffix = "" if n == 1 else f"-{n}"
            components += [
                Component(f"{name}-api{suffix}", [str(VENV_PY), "-m", f"lethe_{name}.api"],
                          _http_probe(f"http://127.0.0.1:{api_port}/readyz"), extra_env=ports),
                Component(f"{name}-worker{suffix}", [str(VENV_PY), "-m", f"lethe_{name}.worker"],
                          _http_probe(f"http://127.0.0.1:{worker_port}/readyz"), extra_env=ports),
            ]
    gateway_port = int(env["LETHE_GATEWAY_PORT"])
    components.append(Component("gateway", [str(VENV_PY), "-m", "lethe_gateway.main"],
                                lambda: http_ok(f"http://127.0.0.1:{gateway_port}/readyz")))
    return components


def wait_ready(components: list[Component], timeout: float,
               interrupted: Callable[[], bool] = lambda: False) -> list[str]:
    """Wait until every component is ready; return the names that are not."""
    deadline = time.monotonic() + timeout
    pending = list(components)
    while pending and time.monotonic() < deadline and not interrupted():
        for component in list(pending):
            code = component.exited()
            if code is not None:
                print(f"  {component.name} exited with code {code}; see var/log/{component.name}.log")
                return [c.name for c in pending]
            if component.ready():
                pending.remove(component)
        time.sleep(0.2)
    return [c.name for c in pending]


def start_all(owner: str, groups: list[list[Component]], env: dict[str, str],
              timeout: float, interrupted: Callable[[], bool] = lambda: False) -> bool:
    for group in groups:
        for component in group:
            component.start(owner, env)
        not_ready = wait_ready(group, timeout, interrupted)
        if not_ready:
            print(f"not ready after {timeout:.0f}s: {', '.join(not_ready)} (logs in var/log/)")
            return False
    return True


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
    supervisor_pidfile = RUN / SUPERVISOR / "up.pid"
    running = _read_pidfile(supervisor_pidfile) if supervisor_pidfile.exists() else None
    if running and start_time(running[0]) == running[1]:
        print(f"make up is already running (pid {running[0]}); `make down` stops it")
        return 1
    stop_owner("up")  # leftovers of a run that was killed hard
    received = _trap_signals()
    write_pid(SUPERVISOR, "up", os.getpid())
    try:
        return _run_up(env, timeout, received)
    finally:
        print("stopping")
        stop_owner("up")
        supervisor_pidfile.unlink(missing_ok=True)


def _run_up(env: dict[str, str], timeout: float, received: list[int]) -> int:
    infra, procs = infrastructure(env), services(env)
    print("starting infrastructure")
    ok = start_all("up", [infra[:2], infra[2:], procs], env, timeout, lambda: bool(received))
    if ok:
        print(f"\nLethe is up: gateway http://127.0.0.1:{env['LETHE_GATEWAY_PORT']}  "
              f"(/readyz, /metrics, /api/v1/openapi.json)")
        print(f"  payment sandbox {env['SHOP_PAYMENT_URL']}   supplier {env['SHOP_SUPPLIER_URL']}")
        print(f"  store  mongodb://127.0.0.1:{env['LETHE_MONGO_PORT']}   "
              f"broker amqp://127.0.0.1:{env['LETHE_AMQP_PORT']}   "
              f"smtp 127.0.0.1:{env['LETHE_SMTP_PORT']} -> {env['LETHE_MAILDIR']}")
        for name in BACKENDS:
            ports = [replica_ports(env, name, n) for n in range(1, replicas(env) + 1)]
            print(f"  {name:<11} gRPC {', '.join(str(p[0]) for p in ports)}  metrics api "
                  f"{', '.join(str(p[1]) for p in ports)}  worker {', '.join(str(p[2]) for p in ports)}")
        print("logs in var/log/; Ctrl-C stops everything\n")
        reported: set[str] = set()
        while not received:
            for component in procs:
                code = component.exited()
                if code is not None and component.name not in reported:
                    reported.add(component.name)
                    print(f"{component.name} exited with code {code}; see var/log/{component.name}.log")
            time.sleep(0.5)
    return 0 if ok else 1


TEST_VHOST = "lethe-test"


def use_test_vhost(env: dict[str, str]) -> None:
    """Point tests and benchmarks at their own vhost, so that a running `make up` neither
    consumes their events nor receives the broken messages they publish on purpose.

    Needs rabbitmqctl access to the node, which we have when the broker is ours (started
    by this script, now or by `make up`); otherwise the default vhost is used as it is.
    """
    if "LETHE_AMQP_URL" in os.environ:
        return  # the caller chose a broker and vhost
    ctl = ["/usr/lib/rabbitmq/bin/rabbitmqctl", "-q", "-n", "lethe@localhost"]
    ctl_env = {**env, "HOME": str(VAR / "rabbitmq" / "home")}
    listed = subprocess.run([*ctl, "list_vhosts"], env=ctl_env, capture_output=True, text=True)
    if listed.returncode != 0:
        print("  broker is not ours: tests share its default vhost with anything else using it")
        return
    if TEST_VHOST not in listed.stdout.split():
        subprocess.run([*ctl, "add_vhost", TEST_VHOST], env=ctl_env, check=True, capture_output=True)
    subprocess.run([*ctl, "set_permissions", "-p", TEST_VHOST, "guest", ".*", ".*", ".*"],
                   env=ctl_env, check=True, capture_output=True)
    env["LETHE_AMQP_URL"] = f"amqp://guest:guest@127.0.0.1:{env['LETHE_AMQP_PORT']}/{TEST_VHOST}"


def cmd_run(argv: list[str], timeout: float) -> int:
    """Start (or reuse) the infrastructure, run ``argv`` with the stack's environment (on
    the test vhost), stop what this run started."""
    env = stack_env()
    infra = infrastructure(env)
    try:
        if not start_all("test", [infra[:2], infra[2:]], env, timeout):
            return 1
        use_test_vhost(env)
        return subprocess.call(argv, cwd=ROOT, env=env)
    finally:
        # Only what this run started: another run may be using what it reused.
        stop_owner("test", {c.name for c in infra if c.popen is not None})


def cmd_down() -> int:
    # A running `make up` stops its own processes in order when told to.
    supervisor = RUN / SUPERVISOR / "up.pid"
    if supervisor.exists():
        record = _read_pidfile(supervisor)
        if record and start_time(record[0]) == record[1]:
            os.kill(record[0], signal.SIGTERM)
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and start_time(record[0]) is not None:
                time.sleep(0.2)
        supervisor.unlink(missing_ok=True)
    if RUN.exists():
        for owner in sorted(p.name for p in RUN.iterdir() if p.is_dir() and p.name != SUPERVISOR):
            stop_owner(owner)
    return 0


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
    for key, value in sorted(stack_env().items()):
        if key.startswith(("LETHE_", "IDENTITY_", "CONSENT_", "SHOP_", "NEWSLETTER_")):
            print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
