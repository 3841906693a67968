"""Three relays and two consumers of one queue, with the store SIGKILLed in the middle.

Writers make changes whose events they cannot publish themselves (their broker is
unreachable), so every event goes out through the relays, which race for the same
intents; two consumers share one queue and record each event's effect. Halfway, the
store is killed and started again. Afterwards every change is there, every event's
effect was applied exactly once, and nothing waits in the outbox.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.errors import DuplicateKeyError, PyMongoError

from lethe_common.events.consumer import PROCESSED_COLLECTION, ConsumerSettings, EventConsumer, Subscription
from lethe_common.events.envelope import Envelope
from lethe_common.events.outbox import OUTBOX, Outbox, OutboxRelay
from lethe_common.events.publisher import EventPublisher
from lethe_testing import PrivateServer, delete_consumer_queues, private_store, wait_for

WRITES = 120
UNREACHABLE_BROKER = "amqp://guest:guest@127.0.0.1:1//"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[PrivateServer]:
    server = private_store(tmp_path).start()
    yield server
    server.kill()


def retrying(call: Any, *args: Any) -> Any:
    """What a caller does while the store is down: try again until it answers."""
    while True:
        try:
            return call(*args)
        except DuplicateKeyError:
            raise
        except PyMongoError:
            time.sleep(0.2)


def test_three_relays_and_two_consumers_lose_nothing_and_apply_nothing_twice_across_a_store_kill(
    store: PrivateServer, amqp_url: str, run_id: str
) -> None:
    client: MongoClient[dict[str, Any]] = MongoClient(
        f"mongodb://127.0.0.1:{store.port}/", serverSelectionTimeoutMS=2000, tz_aware=True
    )
    db = client["delivery"]
    stop = threading.Event()
    deliveries: Counter[str] = Counter()
    lock = threading.Lock()

    def apply(event: Envelope) -> None:
        with lock:
            deliveries[event.id] += 1
        with contextlib.suppress(DuplicateKeyError):  # the handler is idempotent
            db["effects"].insert_one({"_id": event.payload["note"], "event_id": event.id})

    settings = ConsumerSettings(name=f"{run_id}.delivery", retry_base_seconds=0.2)
    consumers = [
        EventConsumer(
            amqp_url,
            settings,
            [Subscription("identity", "system.ping", apply)],
            db[PROCESSED_COLLECTION],
            EventPublisher(amqp_url),
        )
        for _ in range(2)
    ]
    relays = [
        OutboxRelay(EventPublisher(amqp_url), db, lease_seconds=2, abandon_seconds=120) for _ in range(3)
    ]
    threads = [threading.Thread(target=c.run, args=(stop,), daemon=True) for c in consumers]
    threads += [threading.Thread(target=r.run_forever, args=(stop, 0.1), daemon=True) for r in relays]
    for thread in threads:
        thread.start()
    for consumer in consumers:
        assert consumer.ready.wait(15)

    writer = Outbox(EventPublisher(UNREACHABLE_BROKER, connect_timeout=0.3), db, grace_seconds=0)
    events: dict[str, Envelope] = {}
    try:
        for n in range(WRITES):
            note = f"w{n:03d}"
            event = Envelope(
                type="system.ping", source="identity", payload={"ping_id": "0" * 32, "note": note}
            )
            events[note] = event
            retrying(writer.insert, db["things"], {"_id": note, "n": n}, event)
            if n == WRITES // 2:
                store.kill()
                time.sleep(1.5)
                store.start()

        wait_for(
            lambda: retrying(db["effects"].count_documents, {}) == WRITES,
            timeout=120,
            what="every event's effect",
        )
        wait_for(
            lambda: retrying(db[OUTBOX].count_documents, {}) == 0, timeout=60, what="the outbox to empty"
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)
        delete_consumer_queues(amqp_url, settings.name)

    assert db["things"].count_documents({}) == WRITES
    effects = {d["_id"]: d["event_id"] for d in db["effects"].find()}
    assert effects == {note: event.id for note, event in events.items()}, "each change's own event"
    assert set(deliveries) == {event.id for event in events.values()}
    # A handler runs again only for an event in flight when the store died (its effect was
    # written, its "handled" record was not): at most one prefetch window per consumer.
    repeats = sum(deliveries.values()) - WRITES
    assert repeats <= 2 * settings.prefetch, deliveries.most_common(3)
    processed = [d["_id"].rsplit("/", 1)[1] for d in db[PROCESSED_COLLECTION].find()]
    assert sorted(processed) == sorted(e.id for e in events.values()), "each recorded handled once"
    client.close()
