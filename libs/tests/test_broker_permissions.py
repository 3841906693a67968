"""Least privilege on the bus: each service's broker user (lethe_common.events.permissions)
against the real broker, the consumer's refusal of events from the wrong exchange, and the
broker set-up CLI against a real management API."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from amqp import Message
from amqp.exceptions import AccessRefused
from kombu import Connection
from prometheus_client import REGISTRY
from pymongo.database import Database

from lethe_common.events import broker_setup
from lethe_common.events.catalogue import ALL_SERVICES
from lethe_common.events.consumer import PROCESSED_COLLECTION, ConsumerSettings, EventConsumer, Subscription
from lethe_common.events.envelope import Envelope
from lethe_common.events.permissions import permissions
from lethe_common.events.publisher import EventPublisher
from lethe_common.privacy import Receipt
from lethe_testing import PrivateServer, free_port, private_broker, wait_for

ROOT = Path(__file__).resolve().parents[2]


# -- the table -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "name", "allowed"),
    [
        ("write", "shop.events", True),
        ("write", "shop.retry", True),
        ("write", "shop.inbox", True),  # binding a queue needs write on it
        ("write", "shop.retry.3", True),
        ("write", "identity.events", False),
        ("write", "consent.events", False),
        ("write", "amq.default", False),
        ("write", "", False),
        ("write", "identity.retry", False),
        ("write", "identity.inbox", False),
        ("write", "shop.events.x", False),
        ("write", "xshop.events", False),
        ("write", "shop_events", False),
        ("write", "amq.topic", False),
        ("configure", "shop.inbox", True),
        ("configure", "shop.dead", True),
        ("configure", "shop.events", True),
        ("configure", "identity.events", False),
        ("configure", "identity.inbox", False),
        ("configure", "shop.retry.x", False),
        ("read", "shop.inbox", True),
        ("read", "shop.retry", True),
        ("read", "identity.events", True),  # a binding's source exchange
        ("read", "gateway.events", True),
        ("read", "identity.inbox", False),
        ("read", "consent.dead", False),
        ("read", "identity.retry.1", False),
        ("read", "amq.default", False),
    ],
)
def test_the_table_lets_a_service_touch_only_its_own_names(kind: str, name: str, allowed: bool) -> None:
    pattern = getattr(permissions("shop"), kind)
    assert bool(re.search(pattern, name)) is allowed, (kind, name, pattern)


def test_a_queue_prefix_is_the_services_own_or_any_one_in_test_runs() -> None:
    fixed = permissions("shop", "blue.")
    assert re.search(fixed.configure, "blue.shop.inbox")
    assert not re.search(fixed.configure, "shop.inbox")
    assert not re.search(fixed.configure, "green.shop.inbox")
    assert re.search(fixed.write, "shop.events")  # the exchange has no prefix
    loose = permissions("shop", any_queue_prefix=True)
    for name in ("t_0123abcd.shop.inbox", "shop.inbox", "x_1.shop.retry"):
        assert re.search(loose.configure, name), name
    for name in ("t_1.identity.inbox", "t_1.shop.x.inbox", "a.b.shop.inbox", "t_1.identity.events"):
        assert not re.search(loose.configure, name), name
    with pytest.raises(ValueError):
        permissions("Shop")
    with pytest.raises(ValueError):
        permissions("shop", "a*")


# -- users on the real broker --------------------------------------------------
def _load_stack() -> ModuleType:
    sys.path.insert(0, str(ROOT / "tools"))
    spec = importlib.util.spec_from_file_location("lethe_stack_tool", ROOT / "tools" / "stack.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@dataclass
class Broker:
    """A vhost of this test's own on the test stack's broker, with users made from the table."""

    vhost: str
    urls: dict[str, str]
    admin_url: str


@pytest.fixture
def broker() -> Iterator[Broker]:
    stack = _load_stack()
    env = dict(os.environ)
    place = stack.Place(env["LETHE_STACK"])
    ctl = ["/usr/lib/rabbitmq/bin/rabbitmqctl", "-q", "-n", place.node]
    ctl_env = {**env, **stack.erlang_env(place, env)}
    vhost = f"perm-{uuid.uuid4().hex[:8]}"

    def run(*args: str) -> None:
        done = subprocess.run([*ctl, *args], env=ctl_env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr + done.stdout

    run("add_vhost", vhost)
    run("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    users = {name: (f"{vhost}-{name}", uuid.uuid4().hex) for name in ("identity", "consent", "shop")}
    import stack_broker

    problem = stack_broker.set_up_users(ctl, ctl_env, place.rabbitmq, vhost, users)
    assert problem is None, problem
    port = env["LETHE_AMQP_PORT"]
    yield Broker(
        vhost,
        {name: f"amqp://{user}:{pw}@127.0.0.1:{port}/{vhost}" for name, (user, pw) in users.items()},
        f"amqp://guest:guest@127.0.0.1:{port}/{vhost}",
    )
    run("delete_vhost", vhost)
    for user, _ in users.values():
        run("delete_user", user)


def publish_confirmed(url: str, exchange: str, routing_key: str) -> None:
    """Publish with publisher confirms: a refusal closes the channel and raises here."""
    with Connection(url, transport_options={"confirm_publish": True}) as connection:
        connection.Producer().publish(
            {"x": 1}, exchange=exchange, routing_key=routing_key, serializer="json", retry=False
        )


@dataclass
class Recorder:
    failures: int = 0
    calls: dict[str, int] = field(default_factory=dict)

    def __call__(self, envelope: Envelope) -> None:
        self.calls[envelope.id] = self.calls.get(envelope.id, 0) + 1
        if self.calls[envelope.id] <= self.failures:
            raise RuntimeError("handler failure for the test")


@pytest.fixture
def run_consumer(test_db: Database) -> Iterator[Callable[..., EventConsumer]]:
    """A consumer group in a thread, connected as the given service's user."""
    stop = threading.Event()
    publishers: list[EventPublisher] = []

    def start(url: str, name: str, subscriptions: list[Subscription]) -> EventConsumer:
        publisher = EventPublisher(url)
        publishers.append(publisher)
        consumer = EventConsumer(
            url,
            ConsumerSettings(name=name, max_attempts=3, retry_base_seconds=0.2),
            subscriptions,
            test_db[PROCESSED_COLLECTION],
            publisher,
        )
        threading.Thread(target=consumer.run, args=(stop,), daemon=True).start()
        assert consumer.ready.wait(15), "the consumer did not start with its service's user"
        return consumer

    yield start
    stop.set()
    time.sleep(1.2)
    for publisher in publishers:
        publisher.close()


def receipt_event(source: str) -> Envelope:
    receipt = Receipt(request_id="pr_" + uuid.uuid4().hex, kind="erasure", note="done")
    return Envelope(type="privacy.receipt", source=source, subject_key="a" * 64, payload=receipt.payload())


def metric(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_broker_refuses_a_services_user_everything_but_its_own(
    broker: Broker, run_consumer: Callable[..., EventConsumer]
) -> None:
    received = Recorder(failures=1)  # each event fails once: the retry path runs as identity too
    identity = run_consumer(
        broker.urls["identity"],
        "identity",
        [Subscription(source, "system.ping", received) for source in ALL_SERVICES],
    )

    # Another service's exchange, the default exchange (any queue by its name), another
    # service's queues: refused (403 ACCESS_REFUSED, which closes the channel).
    for exchange, routing_key in (("identity.events", "system.ping"), ("", "identity.inbox")):
        with pytest.raises(AccessRefused):
            publish_confirmed(broker.urls["shop"], exchange, routing_key)
    with Connection(broker.urls["shop"]) as connection:
        for attempt in (
            lambda ch: ch.basic_get(queue="identity.inbox"),
            lambda ch: ch.basic_consume(queue="identity.inbox", callback=lambda m: None),
            lambda ch: ch.queue_delete(queue="identity.inbox"),
            lambda ch: ch.exchange_declare("identity.events", "topic", durable=True),
            lambda ch: ch.queue_bind(queue="identity.inbox", exchange="shop.events", routing_key="#"),
            lambda ch: ch.basic_publish(Message(b"{}"), exchange="identity.retry", routing_key="x"),
        ):
            channel: Any = connection.channel()
            with pytest.raises(AccessRefused):
                attempt(channel)
                channel.basic_qos(0, 1, False)  # a round trip: the refusal of a publish arrives
    # The consumer's own topology was declared with identity's user alone.
    with Connection(broker.admin_url) as connection:
        channel = connection.channel()
        channel.queue_declare(queue="identity.dead", passive=True)
        channel.exchange_declare("identity.retry", "direct", passive=True)

    # Its own exchange works, and a failed attempt comes back through its retry exchange.
    publisher = EventPublisher(broker.urls["shop"])
    try:
        event = Envelope(type="system.ping", source="shop", payload={"ping_id": "2" * 32, "note": "own"})
        publisher.publish(event)
    finally:
        publisher.close()
    wait_for(lambda: received.calls.get(event.id) == 2, what="shop's event, once failed and retried")
    assert identity.ready.is_set()


def test_a_receipt_for_another_service_is_refused_and_a_retried_one_accepted(
    broker: Broker, run_consumer: Callable[..., EventConsumer]
) -> None:
    filed = Recorder(failures=1)
    consent = run_consumer(
        broker.urls["consent"],
        "consent",
        [Subscription(source, "privacy.receipt", filed) for source in ALL_SERVICES],
    )
    inbox = consent.settings.inbox
    wrong_before = metric("lethe_consumer_dead_letters_total", {"queue": inbox, "reason": "wrong_exchange"})

    # identity's user may write to identity.events only: a receipt that claims to be the
    # shop's arrives through the wrong exchange and is dead-lettered, never filed.
    forged = receipt_event("shop")
    identity = EventPublisher(broker.urls["identity"])
    try:
        identity.publish_body("identity.events", forged.type, forged.to_wire())
    finally:
        identity.close()
    # The genuine one, through shop.events, fails once and comes back through the retry.
    genuine = receipt_event("shop")
    shop = EventPublisher(broker.urls["shop"])
    try:
        shop.publish(genuine)
    finally:
        shop.close()

    wait_for(lambda: filed.calls.get(genuine.id) == 2, what="the genuine receipt, retried")
    wait_for(
        lambda: (
            metric("lethe_consumer_dead_letters_total", {"queue": inbox, "reason": "wrong_exchange"})
            == wrong_before + 1
        ),
        what="the forged receipt to be refused",
    )
    assert forged.id not in filed.calls
    with Connection(broker.admin_url) as connection:
        channel: Any = connection.channel()
        dead = []
        while (message := channel.basic_get(queue="consent.dead", no_ack=True)) is not None:
            dead.append(json.loads(message.body)["id"])
    assert dead == [forged.id]


# -- the set-up CLI against a real management API ------------------------------
@pytest.fixture(scope="module")
def managed_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrivateServer, int]]:
    """A broker of this module's own with the management plugin on a free port."""
    folder = tmp_path_factory.mktemp("managed")
    server = private_broker(folder)
    api_port = free_port()
    with (folder / "rabbitmq.conf").open("a") as conf:
        conf.write(f"management.tcp.port = {api_port}\nmanagement.tcp.ip = 127.0.0.1\n")
    (folder / "enabled_plugins").write_text("[rabbitmq_management].\n")
    server.start(timeout=90)
    yield server, api_port
    server.kill()


def setup_env(api_port: int, **extra: str) -> dict[str, str]:
    return {
        "LETHE_RABBITMQ_ADMIN_URL": f"http://guest:guest@127.0.0.1:{api_port}",
        "LETHE_RABBITMQ_VHOST": "lethe",
        "LETHE_BROKER_SETUP_WAIT_SECONDS": "60",
        **{f"LETHE_AMQP_PASSWORD_{name.upper()}": f"pw-{name}" for name in broker_setup.BUS_SERVICES},
        **extra,
    }


def test_the_setup_cli_makes_users_permissions_and_exchanges_idempotently(
    managed_broker: tuple[PrivateServer, int],
) -> None:
    server, api_port = managed_broker
    env = setup_env(api_port, LETHE_AMQP_USER_SHOP="lethe-shop")
    assert broker_setup.main(env) == 0
    assert broker_setup.main(env) == 0  # again: nothing changes, nothing fails
    url = f"amqp://lethe-shop:pw-shop@127.0.0.1:{server.port}/lethe"
    publish_confirmed(url, "shop.events", "order.placed")  # the exchange exists; shop may write
    with pytest.raises(AccessRefused):
        publish_confirmed(url, "identity.events", "system.ping")
    with pytest.raises(AccessRefused):
        publish_confirmed(url, "", "shop.inbox")
    with Connection(url) as connection:
        for source in ALL_SERVICES:  # every exchange declared up front
            connection.channel().exchange_declare(f"{source}.events", "topic", passive=True)
    consent = f"amqp://consent:pw-consent@127.0.0.1:{server.port}/lethe"
    publish_confirmed(consent, "consent.events", "privacy.erasure_requested")


def test_the_setup_cli_fails_clearly(managed_broker: tuple[PrivateServer, int], capsys: Any) -> None:
    _, api_port = managed_broker
    wrong = setup_env(api_port, LETHE_RABBITMQ_ADMIN_URL=f"http://guest:nope@127.0.0.1:{api_port}")
    assert broker_setup.main(wrong) == 1
    assert "401" in capsys.readouterr().err
    missing = setup_env(api_port)
    del missing["LETHE_AMQP_PASSWORD_SHOP"]
    with pytest.raises(SystemExit) as exited:
        broker_setup.main(missing)
    assert exited.value.code == 2
    assert "LETHE_AMQP_PASSWORD_SHOP is required" in capsys.readouterr().err
    gone = setup_env(free_port(), LETHE_BROKER_SETUP_WAIT_SECONDS="0")
    assert broker_setup.main(gone) == 1
    assert "does not answer" in capsys.readouterr().err
