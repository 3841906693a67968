"""The store SIGKILLed while orders race their payment notifications and people edit their
profiles, across 2 API and 2 worker replicas of every service: afterwards nothing is lost
and nothing is applied twice.

A client does what a real one does when the server cannot answer: it sends the same request
again (an order with the same Idempotency-Key). The payment sandbox retries its notification
until it is answered, as providers do.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lethe_testing import (
    Browser,
    PrivateServer,
    Stack,
    private_store,
    start_stack,
    stop_stack,
    unique,
    wait_for,
)

PASSWORD = "copper kettle marmalade 9"
PEOPLE = 4
ORDERS_EACH = 5


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateServer]:
    server = private_store(tmp_path_factory.mktemp("store")).start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def stack(store: PrivateServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(
        unique("kill"), tmp_path_factory.mktemp("logs"), LETHE_MONGO_URL=f"mongodb://127.0.0.1:{store.port}/"
    )
    yield running
    stop_stack(running)


def payment_token() -> str:
    reply = httpx.post(
        f"{os.environ['SHOP_PAYMENT_URL']}/v1/tokens",
        json={"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}},
    )
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def until_answered(call: Callable[[], Any], ok: tuple[int, ...], timeout: float = 90) -> Any:
    """Send the same request until the server answers it (5xx and lost connections: again)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = call()
            if reply.status_code in ok:
                return reply
            assert reply.status_code >= 500, f"{reply.status_code}: {reply.text[:300]}"
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server never answered"
        time.sleep(0.3)


def test_a_store_kill_mid_flow_loses_no_order_payment_or_edit_and_doubles_none(
    stack: Stack, store: PrivateServer
) -> None:
    people = []
    for n in range(PEOPLE):
        browser = Browser(stack.gateway_url)
        browser.sign_up(f"{unique('k')}-{n}@buyer.example", PASSWORD, name="Before Kill")
        people.append(browser)
    product = next(p for p in people[0].get("/api/v1/products").json() if p["kind"] == "download")
    placed: dict[str, str] = {}  # idempotency key -> order id
    names: dict[int, str] = {}
    lock = threading.Lock()

    def shop(n: int, browser: Browser) -> None:
        for i in range(ORDERS_EACH):
            key = f"kill-{uuid.uuid4().hex}"
            body = {
                "lines": [{"product_id": product["id"], "quantity": 1}],
                "billing": {
                    "name": "K",
                    "street": "Hauptstr. 1",
                    "postcode": "10115",
                    "city": "Berlin",
                    "country": "DE",
                },
                "payment_token": payment_token(),
            }
            reply = until_answered(
                lambda key=key, body=body: browser.post(
                    "/api/v1/orders", json=body, headers={"Idempotency-Key": key}
                ),
                (200, 201),
            )
            with lock:
                placed[key] = reply.json()["id"]
            name = f"Edit {n}-{i}"
            until_answered(
                lambda name=name: browser.request("PATCH", "/api/v1/me", json={"name": name}), (200,)
            )
            names[n] = name

    workers = [threading.Thread(target=shop, args=(n, b)) for n, b in enumerate(people)]
    for worker in workers:
        worker.start()
    wait_for(lambda: len(placed) >= PEOPLE, 60, what="the first orders")
    store.kill()  # mid-flow: orders, charges, notifications and edits in flight
    time.sleep(2)
    store.start()
    for worker in workers:
        worker.join(180)
    assert len(placed) == PEOPLE * ORDERS_EACH

    def paid_orders(browser: Browser) -> list[dict[str, Any]]:
        listed = browser.get("/api/v1/orders")
        return list(listed.json()) if listed.status_code == 200 else []

    wait_for(
        lambda: sum(o["status"] == "paid" for b in people for o in paid_orders(b)) == PEOPLE * ORDERS_EACH,
        120,
        what="every order to be paid",
    )
    orders = [o for b in people for o in paid_orders(b)]
    assert sorted(o["id"] for o in orders) == sorted(placed.values()), "one order per request"
    for order in orders:
        paid = Counter(h["status"] for h in order["history"])["paid"]
        assert paid == 1, f"paid {paid} times: {order['history']}"
    for n, browser in enumerate(people):
        wait_for(
            lambda browser=browser, n=n: browser.get("/api/v1/me").json()["name"] == names[n],
            10,
            what="the last edit",
        )
        browser.close()


def test_the_stack_serves_again_after_the_kill(stack: Stack, store: PrivateServer, tmp_path: Path) -> None:
    wait_for(
        lambda: httpx.get(f"{stack.gateway_url}/readyz").status_code == 200,
        60,
        what="every backend to be ready again",
    )
