"""The main flows at 1,000, 10,000 and 100,000 people, each beside its floor from the same run.

    make bench
    .venv/bin/python tools/stack.py run -- .venv/bin/python bench/bench_scale.py
    .venv/bin/python tools/stack.py run -- .venv/bin/python bench/bench_scale.py --sizes 1000,10000

Starts its own stack (every backend as 2 API and 2 worker replicas, a gateway, its own
databases and queues) on the store, broker and SMTP sink of ``tools/stack.py run``, then for
each size preloads people with ``tools/seed.py`` (each a verified account with its consent,
a confirmed newsletter subscription and a completed order; every 20th a closed privacy
request, every 100th an open one) and measures:

- ``GET /api/v1/me`` for 32 logged-in seeded people, driven by wrk, beside a bare FastAPI app
  on the gateway's uvicorn settings (the framework's floor), driven the same way;
- placing an order (``POST /api/v1/orders``: price, charge at the payment sandbox, notification,
  download rights) by those people through wrk, each request with its own single-use card
  token and idempotency key, beside the same floor;
- an erasure end to end (opened, fanned out, every service's receipt filed, complete) for
  seeded people: 40 at a calm 4 a second (what one costs), then 200 at a steady 20 a second
  (whether the system keeps up: the last one completes within seconds of the last opened;
  on 2 cores that rate saturates the machine, so its latency is mostly queueing);
- a staff list page (``GET /api/v1/admin/privacy-requests?limit=50``) by an admin, via wrk;
- the outbox relay's idle round (nothing due) on each service's store, beside a bare
  ``find_one`` by ``_id`` on the same store;
- the store's resident memory and its data folder's size.

The goal (issue 12): flat within 1.5x from 1k to 100k, the erasure sustained at 20/s.
Prints figures; asserts nothing, but exits 1 when a flow had errors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import wrk
from pymongo import MongoClient

from lethe.consent.v1 import consent_pb2 as cpb
from lethe.consent.v1 import consent_pb2_grpc
from lethe_common.events.outbox import OutboxRelay
from lethe_common.events.publisher import EventPublisher
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
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tools"))
import seed as seeding  # noqa: E402 - tools/ is not a package

TIMEOUT = httpx.Timeout(60.0)
CONSENT_VERSION = "2026-01"
ADDRESS = {
    "name": "Bench Buyer",
    "street": "Hauptstr. 1",
    "postcode": "10115",
    "city": "Berlin",
    "country": "DE",
}
CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}


@dataclass
class SizeFigures:
    people: int
    rows: dict[str, float] = field(default_factory=dict)  # flow -> the figure compared across sizes
    errors: int = 0


# -- people and sessions -------------------------------------------------------------------------
def expect(response: httpx.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise SystemExit(f"{what}: HTTP {response.status_code} (wanted {status}): {response.text[:300]}")


async def log_in(gateway: str, emails: list[str], password: str) -> list[str]:
    """Log each in; the Cookie header and CSRF token of each session, as wrk sends them."""
    sessions = []
    async with httpx.AsyncClient(base_url=gateway, timeout=TIMEOUT) as client:
        for email in emails:
            client.cookies.clear()
            response = await client.post(
                "/api/v1/session", json={"email": email, "password": password, "remember_me": False}
            )
            expect(response, 200, "log-in of a seeded person")
            csrf = client.cookies["lethe_csrf"]
            sessions.append(f"lethe_session={client.cookies['lethe_session']}; lethe_csrf={csrf}\t{csrf}")
    return sessions


async def make_admin(gateway: str, email: str, password: str) -> str:
    """Register, verify and log in the stack's admin (IDENTITY_ADMIN_EMAILS); its Cookie header."""
    async with httpx.AsyncClient(base_url=gateway, timeout=TIMEOUT) as client:
        expect(
            await client.post(
                "/api/v1/accounts",
                json={
                    "email": email,
                    "password": password,
                    "name": "Bench Admin",
                    "account_consent_version": CONSENT_VERSION,
                },
            ),
            201,
            "admin registration",
        )
        token = token_in(await asyncio.to_thread(wait_for_mail, email, "verification", 1, 60.0))
        expect(
            await client.post("/api/v1/accounts/verify", json={"token": token, "password": password}),
            200,
            "admin verification",
        )
        expect(
            await client.post("/api/v1/session", json={"email": email, "password": password}),
            200,
            "admin log-in",
        )
        return f"lethe_session={client.cookies['lethe_session']}; lethe_csrf={client.cookies['lethe_csrf']}"


async def card_tokens(sandbox: str, count: int) -> list[str]:
    """Single-use card tokens from the payment sandbox, as a browser would get them."""
    async with httpx.AsyncClient(base_url=sandbox, timeout=TIMEOUT) as client:
        tokens = []
        for start in range(0, count, 50):
            replies = await asyncio.gather(
                *(client.post("/v1/tokens", json={"card": CARD}) for _ in range(min(50, count - start)))
            )
            tokens += [r.json()["id"] for r in replies]
        return tokens


# -- floors and processes -------------------------------------------------------------------------
@contextmanager
def bare_app(log_dir: Path) -> Iterator[str]:
    """bench/bare_app.py in its own process (the gateway's uvicorn settings); its base URL."""
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
            wait_for(lambda: http_status(f"{url}/bare") == 200, 30, what="the bare app")
            yield url
        finally:
            popen.terminate()
            popen.wait(15)


def stack_dir() -> Path:
    """Where ``tools/stack.py run`` keeps this run's store (var/stacks/<its name>/)."""
    return ROOT / "var" / "stacks" / os.environ["LETHE_STACK"]


def store_pid() -> int | None:
    for pidfile in stack_dir().glob("run/*/ferretdb.pid"):
        fields = pidfile.read_text().split()
        if fields and Path(f"/proc/{fields[0]}").exists():
            return int(fields[0])
    return None


def rss_mib(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def disk_mib(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


# -- flows ------------------------------------------------------------------------------------------
def relay_idle(client: MongoClient[dict[str, Any]], stack: Stack, amqp_url: str) -> tuple[float, float]:
    """p50 ms of one relay round with nothing due, over every service's store, and of a bare
    find_one by _id on the same stores."""
    publisher = EventPublisher(amqp_url)
    rounds, floor = [], []
    try:
        for backend in stack.backends.values():
            db = client[backend.db_name]
            relay = OutboxRelay(publisher, db, lease_seconds=30)
            for _ in range(30):
                started = time.perf_counter()
                relay.run_once()
                rounds.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                db["outbox"].find_one({"_id": "nothing"})
                floor.append((time.perf_counter() - started) * 1000)
    finally:
        publisher.close()
    return statistics.median(rounds), statistics.median(floor)


def erasures(
    stack: Stack, people: list[seeding.SeededPerson], rate: float, seconds: float
) -> tuple[list[float], float, int]:
    """Open erasures for ``people`` at ``rate`` a second while a second thread follows every
    open one; each one's time from opened to complete as the client sees it (ms, to within
    one round of the follower), how long after the last was opened the last completed (s),
    and how many did not complete within two minutes."""
    backend = stack.backends["consent"]
    opened: dict[str, tuple[str, float]] = {}
    done: dict[str, float] = {}
    finished = threading.Event()

    def follow(stub: consent_pb2_grpc.ConsentServiceStub) -> None:
        give_up = float("inf")
        while not (finished.is_set() and len(done) == len(opened)) and time.perf_counter() < give_up:
            if finished.is_set() and give_up == float("inf"):
                give_up = time.perf_counter() + 120
            for request_id, (token, _) in list(opened.items()):
                if request_id in done:
                    continue
                view = stub.GetPrivacyRequest(
                    cpb.FollowRequest(request_id=request_id, token=token), timeout=10
                )
                if view.status == "complete":
                    done[request_id] = time.perf_counter()
            time.sleep(0.01)

    with backend.channel() as channel:
        stub = consent_pb2_grpc.ConsentServiceStub(channel)
        follower = threading.Thread(target=follow, args=(stub,), daemon=True)
        follower.start()
        count = min(len(people), int(rate * seconds))
        started = time.perf_counter()
        for n, person in enumerate(people[:count]):
            time.sleep(max(0.0, started + n / rate - time.perf_counter()))
            at = time.perf_counter()
            reply = stub.OpenPrivacyRequest(
                cpb.OpenPrivacyRequestRequest(
                    person=cpb.Person(account_id=person.account_id, email=person.email),
                    kind="erasure",
                    authenticated=True,
                ),
                timeout=10,
            )
            opened[reply.request.id] = (reply.follow_token, at)
        last_opened = time.perf_counter()
        finished.set()
        follower.join(120)
    latencies = sorted((done[r] - at) * 1000 for r, (_, at) in opened.items() if r in done)
    lag = max(done.values(), default=last_opened) - last_opened
    return latencies, lag, len(opened) - len(done)


async def measure(
    stack: Stack,
    args: argparse.Namespace,
    size: int,
    admin: str,
    password: str,
    bare: str,
    client: MongoClient[dict[str, Any]],
) -> SizeFigures:
    figures = SizeFigures(size)
    gateway = stack.gateway_url
    print(f"\n{size:,} people")
    sample = seeding.people(0, args.clients)  # never among those erased below
    sessions = await log_in(gateway, [p.email for p in sample], password)

    me = wrk.run(f"{gateway}/api/v1/me", seconds=args.seconds, connections=args.clients, cookies=sessions)
    floor = wrk.run(f"{bare}/bare", seconds=args.seconds, connections=args.clients, cookies=sessions)
    print(me.row("GET /api/v1/me (wrk)", floor))
    print(floor.row("floor: GET /bare, bare FastAPI (wrk)", floor))
    figures.rows["GET /api/v1/me p50 ms"] = me.p50_ms
    figures.rows["GET /api/v1/me per second"] = me.rate

    product = seeding.demo_download_product(client, stack)
    tokens = await card_tokens(os.environ["SHOP_PAYMENT_URL"], int(args.order_seconds * 400))
    body = (
        '{"lines":[{"product_id":"'
        + product
        + '","quantity":1}],"billing":'
        + seeding.json_text(ADDRESS)
        + ',"delivery":'
        + seeding.json_text(ADDRESS)
        + ',"payment_token":"__TOKEN__"}'
    )
    orders = wrk.run(
        f"{gateway}/api/v1/orders",
        seconds=args.order_seconds,
        connections=8,
        method="POST",
        cookies=sessions,
        tokens=tokens,
        body=body,
    )
    print(orders.row("POST /api/v1/orders (wrk, 8 connections)", floor))
    figures.rows["order p50 ms"] = orders.p50_ms
    figures.rows["orders per second"] = orders.rate

    staff = wrk.run(
        f"{gateway}/api/v1/admin/privacy-requests?limit=50",
        seconds=args.seconds,
        connections=8,
        cookies=[admin],
    )
    print(staff.row("GET /api/v1/admin/privacy-requests?limit=50 (wrk)", floor))
    figures.rows["staff page p50 ms"] = staff.p50_ms

    # The newest seeded people, never logged in here: first a few at a calm rate (what one
    # erasure costs), then the sustained rate (whether the system keeps up, and its queueing).
    calm = args.calm_erasures
    targets = seeding.people(size - args.erasures - calm, size)
    failed = 0
    for label, people, rate in (
        ("calm", targets[:calm], args.calm_rate),
        ("sustained", targets[calm:], args.erasure_rate),
    ):
        latencies, lag, missed = erasures(stack, people, rate, len(people) / rate)
        failed += missed
        if latencies:
            p50, p95 = statistics.median(latencies), latencies[max(0, int(len(latencies) * 0.95) - 1)]
            print(
                f"  {'erasure opened -> complete, ' + label:<46} {rate:9.1f}/s  "
                f"p50={p50:7.1f} ms  p95={p95:8.1f} ms  failed={missed}  "
                f"last done {lag:4.1f} s after the last opened"
            )
            figures.rows[f"erasure p50 ms, {label}"] = p50
    idle, bare_read = relay_idle(client, stack, os.environ["LETHE_AMQP_URL"])
    print(
        f"  {'outbox relay, idle round (4 stores)':<46} p50={idle:7.2f} ms   "
        f"floor: find_one by _id p50={bare_read:5.2f} ms"
    )
    figures.rows["relay idle p50 ms"] = idle
    print(
        f"  store: {rss_mib(store_pid()):.0f} MiB resident, "
        f"{disk_mib(stack_dir() / 'ferretdb'):.0f} MiB on disk (every database in it)"
    )
    figures.errors = (
        me.errors + me.non2xx + orders.errors + orders.non2xx + staff.errors + staff.non2xx + failed
    )
    return figures


def compare(results: list[SizeFigures]) -> None:
    first, last = results[0], results[-1]
    print(f"\nfrom {first.people:,} to {last.people:,} people (goal: within 1.5x)")
    for name, value in first.rows.items():
        later = last.rows.get(name)
        if later is not None and value:
            print(f"  {name:<34} {value:9.2f} -> {later:9.2f}   x{later / value:5.2f}")


async def run(args: argparse.Namespace) -> int:
    log_dir = Path(tempfile.mkdtemp(prefix="lethe-bench-scale-"))
    admin_email = f"admin-{unique('b')}@bench.example"
    password = f"bench passphrase {secrets.token_hex(8)}"
    stack = start_stack(
        unique("scale"), log_dir, IDENTITY_ADMIN_EMAILS=admin_email, CONSENT_REQUEST_DUE_MONTHS="1"
    )
    client: MongoClient[dict[str, Any]] = MongoClient(os.environ["LETHE_MONGO_URL"], tz_aware=True)
    results = []
    try:
        print(
            f"stack: {len(stack.backends)} services x 2 API + 2 worker replicas, a gateway; "
            f"{os.cpu_count()} cores; logs in {log_dir}"
        )
        admin = await make_admin(stack.gateway_url, admin_email, password)
        password_hash = seeding.password_hash(password)
        seeded = 0
        with bare_app(log_dir) as bare:
            for size in args.sizes:
                started = time.perf_counter()
                seeding.seed(
                    client,
                    seeding.databases_of(stack),
                    os.environ["LETHE_SUBJECT_PEPPER"],
                    seeded,
                    size,
                    password_hash,
                )
                print(f"\nseeded {size - seeded:,} people in {time.perf_counter() - started:.0f} s")
                seeded = size
                results.append(await measure(stack, args, size, admin, password, bare, client))
        compare(results)
    finally:
        client.close()
        stop_stack(stack)
    return 1 if any(r.errors for r in results) else 0


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        "--sizes", default="1000,10000,100000", type=lambda text: sorted(int(s) for s in text.split(","))
    )
    parser.add_argument("--clients", type=int, default=32, help="logged-in people and wrk connections")
    parser.add_argument("--seconds", type=float, default=10.0, help="each wrk run")
    parser.add_argument("--order-seconds", type=float, default=10.0)
    parser.add_argument("--erasures", type=int, default=200, help="erasures per size")
    parser.add_argument("--erasure-rate", type=float, default=20.0, help="erasures opened a second")
    parser.add_argument("--calm-erasures", type=int, default=40, help="erasures at the calm rate first")
    parser.add_argument("--calm-rate", type=float, default=4.0)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
