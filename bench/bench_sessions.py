"""Benchmark of the logged-in request path and of log-in, beside a bare FastAPI floor, in one run.

    make bench
    .venv/bin/python tools/stack.py run -- .venv/bin/python bench/bench_sessions.py --clients 16 --seconds 10

Starts its own stack (every backend and a gateway on free ports, its own databases and
queues) on the store, broker and SMTP sink that ``tools/stack.py run`` provides, then:

1. registers ``--clients`` accounts through the gateway's JSON API, verifies each with the
   token from its mail and logs each in (one httpx client, with its own cookies, per account);
2. ``GET /api/v1/me`` from all of them at once for ``--seconds`` (or ``--requests`` in all):
   gateway, the identity API's ``Authenticate`` over gRPC, two reads in the store;
3. ``GET /bare`` on ``bench/bare_app.py`` (a bare FastAPI app in its own process, served with
   the gateway's uvicorn settings) from the same clients, cookies and all, for as long;
4. ``--logins`` log-ins (``POST /api/v1/session``, one argon2id verification each) from
   ``--login-clients`` clients at a time, each without a session so none ends another.

Every flow is warmed up (``--warmup`` seconds, or one log-in a client) before it is measured.
The load generator is this one Python process, on the same machine as everything it
measures: the CPU table says who was busy, so a client-bound figure shows as such.
Prints figures; asserts nothing, but exits 1 if any measured request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import httpx

from lethe_testing import (
    Stack,
    free_port,
    http_status,
    start_stack,
    stop_stack,
    token_in,
    unique,
    wait_for,
    wait_for_mail,
)

HERE = Path(__file__).resolve().parent
PASSWORD = f"bench passphrase {secrets.token_hex(8)}"  # one per run, never printed
CONSENT_VERSION = "2026-01"
TIMEOUT = httpx.Timeout(60.0)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

ME_FLOW = "GET /api/v1/me (gateway → identity → store)"
BARE_FLOW = "GET /bare (bare FastAPI, same uvicorn settings)"
LOGIN_FLOW = "POST /api/v1/session (log-in, argon2id)"
LOAD_GENERATOR = "load generator (this process)"
CLIENT_BOUND_PERCENT = 90.0


# -- figures ---------------------------------------------------------------------------------
def percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty list."""
    rank = max(1, min(len(ordered), -(-len(ordered) * pct // 100)))
    return ordered[int(rank) - 1]


@dataclass
class Measured:
    flow: str
    clients: int
    wall_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)  # successful requests only
    errors: Counter[str] = field(default_factory=Counter)
    cpu_percent: dict[str, float] = field(default_factory=dict)  # of one core, over wall_s
    machine_busy: float = 0.0  # % of all cores
    body_bytes: int = 0

    def record(self, ms: float, error: str | None) -> None:
        if error is None:
            self.latencies_ms.append(ms)
        else:
            self.errors[error] += 1

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.wall_s if self.wall_s else 0.0

    def row(self) -> str:
        ordered = sorted(self.latencies_ms)
        p50 = f"{statistics.median(ordered):.2f}" if ordered else "-"
        p99 = f"{percentile(ordered, 99):.2f}" if ordered else "-"
        return (
            f"| {self.flow} | {self.clients} | {self.rate:.1f} | {p50} | {p99} | "
            f"{sum(self.errors.values())} |"
        )


# -- CPU of the processes involved, from /proc ------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_ticks() -> tuple[int, int]:
    """Busy and total CPU ticks of the whole machine, every core, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]  # idle and iowait
    return sum(values) - idle, sum(values)


@contextmanager
def cpu_meter(measured: Measured, pids: Mapping[str, int]) -> Iterator[None]:
    """Fills ``measured.cpu_percent`` with each process's share of one core while the block ran,
    and the whole machine's (every process, every core: 100% is all of them busy)."""
    own, started = time.process_time(), time.perf_counter()
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    busy, total = machine_ticks()
    yield
    elapsed = time.perf_counter() - started
    measured.cpu_percent[LOAD_GENERATOR] = (time.process_time() - own) / elapsed * 100
    for name, pid in pids.items():
        measured.cpu_percent[name] = (cpu_seconds(pid) - before[name]) / elapsed * 100
    busy_after, total_after = machine_ticks()
    measured.machine_busy = (busy_after - busy) / max(total_after - total, 1) * 100


# -- requests ----------------------------------------------------------------------------------
async def timed_request(
    client: httpx.AsyncClient, method: str, url: str, json: dict[str, object] | None = None
) -> tuple[float, str | None, int]:
    """Latency in ms, an error label (None when the answer is 200) and the body's length."""
    started = time.perf_counter()
    try:
        response = await client.request(method, url, json=json)
    except httpx.HTTPError as exc:
        return (time.perf_counter() - started) * 1000, type(exc).__name__, 0
    ms = (time.perf_counter() - started) * 1000
    return ms, None if response.status_code == 200 else f"HTTP {response.status_code}", len(response.content)


async def hammer(
    client: httpx.AsyncClient, url: str, deadline: float, count: int | None, measured: Measured | None
) -> None:
    """Back-to-back GETs on one client (one connection) until the deadline or ``count`` requests."""
    done = 0
    while (time.perf_counter() < deadline) if count is None else (done < count):
        ms, error, size = await timed_request(client, "GET", url)
        done += 1
        if measured is not None:
            measured.record(ms, error)
            measured.body_bytes = size or measured.body_bytes


async def measure_get(
    flow: str, clients: list[httpx.AsyncClient], url: str, args: argparse.Namespace, pids: Mapping[str, int]
) -> Measured:
    warm_until = time.perf_counter() + args.warmup
    await asyncio.gather(*(hammer(c, url, warm_until, None, None) for c in clients))
    measured = Measured(flow, len(clients))
    counts: list[int | None] = [None] * len(clients)
    if args.requests:
        counts = [
            args.requests // len(clients) + (i < args.requests % len(clients)) for i in range(len(clients))
        ]
    with cpu_meter(measured, pids):
        started = time.perf_counter()
        await asyncio.gather(
            *(
                hammer(c, url, started + args.seconds, n, measured)
                for c, n in zip(clients, counts, strict=True)
            )
        )
        measured.wall_s = time.perf_counter() - started
    return measured


async def measure_logins(
    gateway_url: str, emails: list[str], args: argparse.Namespace, pids: Mapping[str, int]
) -> Measured:
    """``args.logins`` log-ins over the accounts, ``args.login_clients`` at a time, none with a
    session cookie (so none also logs another session out)."""
    concurrency = max(1, min(args.login_clients, args.logins))
    clients = [httpx.AsyncClient(base_url=gateway_url, timeout=TIMEOUT) for _ in range(concurrency)]
    try:
        for client in clients:  # open each connection; /healthz sets no cookie
            await client.get("/healthz")

        async def log_in(client: httpx.AsyncClient, jobs: list[int], measured: Measured | None) -> None:
            while jobs:
                email = emails[jobs.pop() % len(emails)]
                ms, error, _ = await timed_request(
                    client,
                    "POST",
                    "/api/v1/session",
                    json={"email": email, "password": PASSWORD, "remember_me": False},
                )
                client.cookies.clear()
                if measured is not None:
                    measured.record(ms, error)

        warm = list(range(concurrency))
        await asyncio.gather(*(log_in(c, warm, None) for c in clients))
        measured = Measured(LOGIN_FLOW, concurrency)
        jobs = list(range(args.logins))
        with cpu_meter(measured, pids):
            started = time.perf_counter()
            await asyncio.gather(*(log_in(c, jobs, measured) for c in clients))
            measured.wall_s = time.perf_counter() - started
        return measured
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


# -- set-up ------------------------------------------------------------------------------------
def expect(response: httpx.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise SystemExit(f"{what}: HTTP {response.status_code} (wanted {status}): {response.text[:300]}")


async def enrol(gateway_url: str, run_id: str, n: int) -> tuple[list[str], list[httpx.AsyncClient]]:
    """``n`` registered, verified, logged-in accounts: their addresses and one client each."""
    emails = [f"bench{i}-{run_id}@bench.example" for i in range(n)]
    clients = [httpx.AsyncClient(base_url=gateway_url, timeout=TIMEOUT) for _ in range(n)]
    registered = await asyncio.gather(
        *(
            c.post(
                "/api/v1/accounts",
                json={
                    "email": e,
                    "password": PASSWORD,
                    "name": "Bench Mark",
                    "account_consent_version": CONSENT_VERSION,
                },
            )
            for c, e in zip(clients, emails, strict=True)
        )
    )
    for response in registered:
        expect(response, 201, "registration")
    tokens = [token_in(await asyncio.to_thread(wait_for_mail, e, "verification", 1, 60.0)) for e in emails]
    verified = await asyncio.gather(
        *(
            c.post("/api/v1/accounts/verify", json={"token": t, "password": PASSWORD})
            for c, t in zip(clients, tokens, strict=True)
        )
    )
    for response in verified:
        expect(response, 200, "verification")
    logged_in = await asyncio.gather(
        *(
            c.post("/api/v1/session", json={"email": e, "password": PASSWORD, "remember_me": False})
            for c, e in zip(clients, emails, strict=True)
        )
    )
    for client, response in zip(clients, logged_in, strict=True):
        expect(response, 200, "log-in")
        if not {"lethe_session", "lethe_csrf"} <= set(client.cookies.keys()):
            raise SystemExit("log-in answered 200 without the lethe_session and lethe_csrf cookies")
    return emails, clients


@contextmanager
def bare_app(log_dir: Path) -> Iterator[tuple[str, int]]:
    """bench/bare_app.py in its own process: its base URL and pid; terminated afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log_dir / "bare-app.log", "ab") as log:
        popen = subprocess.Popen(
            [sys.executable, str(HERE / "bare_app.py"), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:

            def ready() -> bool:
                if popen.poll() is not None:
                    raise SystemExit(f"the bare app exited with {popen.returncode}; see {log.name}")
                return http_status(f"{url}/bare") == 200

            wait_for(ready, 30, what="the bare app")
            yield url, popen.pid
        finally:
            popen.terminate()
            try:
                popen.wait(15)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(5)


def pid_of(stack: Stack, name: str) -> int:
    process = stack.gateway if name == "gateway" else stack.backends[name].api
    if process.popen is None:
        raise SystemExit(f"{name} is not running")
    return process.popen.pid


# -- the run -------------------------------------------------------------------------------------
async def bench(args: argparse.Namespace, stack: Stack, log_dir: Path) -> list[Measured]:
    gateway = {"gateway": pid_of(stack, "gateway"), "identity API": pid_of(stack, "identity")}
    started = time.perf_counter()
    emails, clients = await enrol(stack.gateway_url, stack.run_id, args.clients)
    print(
        f"{args.clients} accounts registered, verified and logged in ({time.perf_counter() - started:.1f} s)",
        flush=True,
    )
    try:
        with bare_app(log_dir) as (bare_url, bare_pid):
            me = await measure_get(ME_FLOW, clients, f"{stack.gateway_url}/api/v1/me", args, gateway)
            bare = await measure_get(BARE_FLOW, clients, f"{bare_url}/bare", args, {"bare app": bare_pid})
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    login = await measure_logins(stack.gateway_url, emails, args, gateway)
    return [me, bare, login]


def report(args: argparse.Namespace, results: list[Measured]) -> None:
    me, bare, login = results
    print()
    print("| flow | clients | req/s | p50 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for measured in results:
        print(measured.row())
    print()
    if bare.rate:
        print(
            f"me/bare throughput: {me.rate / bare.rate:.3f} "
            f"({me.rate:.1f} / {bare.rate:.1f} req/s; bare answers {bare.rate / max(me.rate, 1e-9):.1f}x "
            f"as many)"
        )
    print(
        f"response bodies: /api/v1/me {me.body_bytes} B, /bare {bare.body_bytes} B; "
        f"log-ins: {len(login.latencies_ms)} in {login.wall_s:.2f} s"
    )
    print()
    print(
        f"CPU while measuring, % of one core; machine: % of all {os.cpu_count()} cores, which "
        "the load generator, the servers, the store and the broker share:"
    )
    for measured in results:
        shares = ", ".join(f"{name} {pct:.0f}%" for name, pct in measured.cpu_percent.items())
        print(f"  {measured.flow}: {shares}; machine {measured.machine_busy:.0f}% busy")
    for measured in results:
        if measured.cpu_percent.get(LOAD_GENERATOR, 0.0) >= CLIENT_BOUND_PERCENT:
            print(
                f"  note: the load generator used a whole core during {measured.flow}: that figure "
                "is bounded by the client, the server may answer more"
            )
    if bare.cpu_percent.get(LOAD_GENERATOR, 0.0) >= CLIENT_BOUND_PERCENT:
        print("  note: so me/bare overstates how close the gateway comes to the bare floor")
    for measured in results:
        for error, count in measured.errors.most_common():
            print(f"  errors in {measured.flow}: {count} x {error}")


def describe(args: argparse.Namespace) -> str:
    extras = [name for name in ("uvloop", "httptools") if importlib.util.find_spec(name) is not None]
    argon2 = "/".join(
        os.environ.get(f"IDENTITY_ARGON2_{key}", default)
        for key, default in (("TIME_COST", "5"), ("MEMORY_KIB", "19456"), ("PARALLELISM", "1"))
    )
    length = f"{args.requests} requests" if args.requests else f"{args.seconds:g} s"
    return (
        f"Lethe sessions: {args.clients} clients, {length} a flow after {args.warmup:g} s of warm-up, "
        f"{args.logins} log-ins from {min(args.login_clients, args.logins)} clients; "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, uvicorn {version('uvicorn')} "
        f"({'+'.join(extras) or 'asyncio + h11'}), fastapi {version('fastapi')}, "
        f"httpx {version('httpx')}; argon2id t/m/p {argon2}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients, one account each")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds a GET flow")
    parser.add_argument(
        "--requests", type=int, default=0, help="measure this many requests a GET flow instead of --seconds"
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each GET flow")
    parser.add_argument("--logins", type=int, default=32, help="measured log-ins")
    parser.add_argument("--login-clients", type=int, default=4, help="log-ins in flight at once")
    args = parser.parse_args()
    if (
        args.clients < 1
        or args.seconds <= 0
        or args.logins < 1
        or args.login_clients < 1
        or args.requests < 0
        or args.warmup < 0
    ):
        parser.error("--clients, --seconds, --logins and --login-clients must be positive")
    print(describe(args), flush=True)
    log_dir = Path(tempfile.mkdtemp(prefix="lethe-bench-"))
    stack = start_stack(unique("bench"), log_dir)
    try:
        results = asyncio.run(bench(args, stack, log_dir))
    finally:
        stop_stack(stack)
    report(args, results)
    print(f"\nlogs: {log_dir}")
    return 1 if any(m.errors for m in results) else 0


if __name__ == "__main__":
    sys.exit(main())
