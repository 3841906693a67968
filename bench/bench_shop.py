"""Benchmark of placing orders through the gateway, beside the bare store's insert rate, in one run.

    make bench
    .venv/bin/python tools/stack.py run -- .venv/bin/python bench/bench_shop.py --customers 8 --orders 25

Starts its own stack (every backend and a gateway on free ports, its own databases and
queues) on the store, broker, SMTP sink, payment sandbox and supplier that
``tools/stack.py run`` provides, then:

1. registers, verifies and logs in ``--customers`` accounts;
2. gets every payment token from the sandbox first (in a real shop the browser does that
   before checkout, so it is not part of placing the order);
3. all customers at once, each placing ``--orders`` orders one after the other
   (``POST /api/v1/orders``: a physical and a download product; gateway → identity
   (session) → shop → catalogue read, index entries and order insert, charge at the
   sandbox over HTTP, the payment step with ``order.placed`` appended and published);
4. inserts the very same order documents, read back from the shop's database, into a
   scratch collection of the same store from as many threads (``insert_one`` each): the floor;
5. from the orders' own timestamps: placed → paid (the sandbox's signed notification,
   through the gateway to the shop, appends the order's "paid" step; the sandbox waits
   0.2 s before it settles).

Prints figures; asserts nothing, but exits 1 if any order failed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from bench_sessions import enrol, percentile
from pymongo import MongoClient
from pymongo.database import Database

from lethe_common.store.keys import under
from lethe_shop.order_state import fold
from lethe_testing import Stack, start_stack, stop_stack, unique, wait_for

TIMEOUT = httpx.Timeout(60.0)
ADDRESS = {
    "name": "Bench Mark",
    "street": "Hauptstraße 1",
    "postcode": "10115",
    "city": "Berlin",
    "country": "DE",
}


def row(name: str, samples_ms: list[float], wall_s: float | None) -> None:
    ordered = sorted(samples_ms)
    rate = f"{len(ordered) / wall_s:8.1f}/s" if wall_s else ""
    print(
        f"{name:<60} n={len(ordered):<5} p50={statistics.median(ordered):8.2f} ms  "
        f"p99={percentile(ordered, 99):8.2f} ms  max={ordered[-1]:8.2f} ms  {rate}"
    )


async def tokens(count: int) -> list[str]:
    url = f"{os.environ['SHOP_PAYMENT_URL']}/v1/tokens"
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        replies = [await client.post(url, json={"card": card}) for _ in range(count)]
    return [str(r.json()["id"]) for r in replies]


async def place_orders(
    clients: list[httpx.AsyncClient], lines: list[dict[str, Any]], per_customer: int
) -> tuple[list[float], float, list[str], int]:
    payment = await tokens(len(clients) * per_customer)
    samples: list[float] = []
    order_ids: list[str] = []
    failures = 0

    async def customer(client: httpx.AsyncClient, mine: list[str]) -> None:
        nonlocal failures
        for token in mine:
            body = {"lines": lines, "billing": ADDRESS, "delivery": ADDRESS, "payment_token": token}
            started = time.perf_counter()
            reply = await client.post(
                "/api/v1/orders",
                json=body,
                headers={
                    "Idempotency-Key": f"bench-{uuid.uuid4().hex}",
                    "X-CSRF-Token": client.cookies.get("lethe_csrf") or "",
                },
            )
            samples.append((time.perf_counter() - started) * 1000)
            if reply.status_code == 201:
                order_ids.append(reply.json()["id"])
            else:
                failures += 1
                print(f"  order failed: {reply.status_code} {reply.text[:200]}", file=sys.stderr)

    started = time.perf_counter()
    await asyncio.gather(
        *(customer(c, payment[i * per_customer : (i + 1) * per_customer]) for i, c in enumerate(clients))
    )
    return samples, time.perf_counter() - started, order_ids, failures


async def orders_of(
    gateway_url: str, run_id: str, args: argparse.Namespace
) -> tuple[list[float], float, list[str], int]:
    """Enrol the customers, warm up with one order each, then measure."""
    _, clients = await enrol(gateway_url, run_id, args.customers)
    try:
        listed = (await clients[0].get("/api/v1/products")).json()
        products = {p["sku"]: p for p in listed}
        lines = [
            {"product_id": products["LETHE-KEY-01"]["id"], "quantity": 2},
            {"product_id": products["LETHE-ANALYZER-32"]["id"]},
        ]
        await place_orders(clients, lines, 1)
        return await place_orders(clients, lines, args.orders)
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))


def grpc_means(stack: Stack) -> dict[str, float]:
    """Mean server-side time of the gRPC calls an order makes, from the APIs' /metrics."""
    means: dict[str, float] = {}
    for service in ("identity", "shop"):
        url = stack.backends[service].api.ready_url.replace("/readyz", "/metrics")
        text = httpx.get(url).text
        sums: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("lethe_grpc_server_handling_seconds_") and "grpc_method" in line:
                kind = line.split("{")[0].rsplit("_", 1)[1]
                method = line.split('grpc_method="')[1].split('"')[0]
                if kind in ("sum", "count"):
                    sums[f"{method}.{kind}"] = float(line.rsplit(" ", 1)[1])
        for key, total in sums.items():
            method, kind = key.rsplit(".", 1)
            count = sums.get(f"{method}.count", 0.0)
            if kind == "sum" and count and method in ("Authenticate", "PlaceOrder", "PaymentNotification"):
                means[f"{service}.{method}"] = total / count * 1000
    return means


def bare_inserts(
    client: MongoClient[dict[str, Any]], docs: list[dict[str, Any]], threads: int
) -> tuple[list[float], float]:
    """The same documents, ``insert_one`` each, from ``threads`` threads at once."""
    scratch = client[f"bench_{unique('floor')}"]["orders"]
    samples: list[float] = []
    lock = threading.Lock()

    def work(part: list[dict[str, Any]]) -> None:
        for doc in part:
            started = time.perf_counter()
            scratch.insert_one({**doc, "_id": uuid.uuid4().hex})
            with lock:
                samples.append((time.perf_counter() - started) * 1000)

    workers = [threading.Thread(target=work, args=(docs[i::threads],)) for i in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - started
    client.drop_database(scratch.database.name)
    return samples, wall


def paid_step(db: Database[dict[str, Any]], order_id: str) -> dict[str, Any] | None:
    """The step that made the order paid (its steps are one _id range), if there is one."""
    return next((s for s in db.order_steps.find({"_id": under(order_id)}) if s["kind"] == "paid"), None)


def order_status(db: Database[dict[str, Any]], order: dict[str, Any]) -> tuple[str, str]:
    state = fold(order, list(db.order_steps.find({"_id": under(order["_id"])}, sort=[("_id", 1)])))
    return state.status, state.payment_status


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=8)
    parser.add_argument("--orders", type=int, default=25, help="orders per customer")
    args = parser.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-shop-"))
    stack = start_stack(unique("bs"), log_dir, LETHE_LOG_LEVEL="WARNING")
    mongo: MongoClient[dict[str, Any]] = MongoClient(os.environ["LETHE_MONGO_URL"])
    try:
        samples, wall, order_ids, failures = asyncio.run(orders_of(stack.gateway_url, stack.run_id, args))
        shop_db = mongo[stack.backends["shop"].db_name]
        docs = list(shop_db.orders.find({"_id": {"$in": order_ids}}))
        floor, floor_wall = bare_inserts(mongo, docs, args.customers)
        placed_at = {d["_id"]: d["placed_at"] for d in docs}

        def all_paid() -> list[dict[str, Any]]:
            paid = []
            for order_id in order_ids:
                step = paid_step(shop_db, order_id)
                if step is None:
                    return []
                paid.append({"placed_at": placed_at[order_id], "paid_at": step["at"]})
            return paid

        try:
            paid: list[dict[str, Any]] = wait_for(all_paid, 120, what="every order to be paid")
        except AssertionError:
            states = Counter(order_status(shop_db, d) for d in docs)
            raise SystemExit(f"not every order was paid after 120 s: {dict(states)}") from None
        to_paid = [(d["paid_at"] - d["placed_at"]).total_seconds() * 1000 for d in paid]
        print(
            f"\nshop benchmark: {args.customers} customers at once, {args.orders} orders each "
            f"(2 lines: physical + download), {os.cpu_count()} cores, one process each"
        )
        row("POST /api/v1/orders through the gateway", samples, wall)
        row("bare store: insert_one of the same documents, as many threads", floor, floor_wall)
        row("placed → paid (sandbox notification, 0.2 s settle delay)", to_paid, None)
        for name, mean_ms in grpc_means(stack).items():
            print(f"  mean server time of {name}: {mean_ms:.1f} ms")
        print(
            f"ratio of order rate to bare insert rate: "
            f"{(len(samples) / wall) / (len(floor) / floor_wall):.3f}"
        )
        return 1 if failures else 0
    finally:
        mongo.close()
        stop_stack(stack)


if __name__ == "__main__":
    sys.exit(main())
