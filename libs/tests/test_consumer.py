"""The consumer base against the real broker and store: retries, dead letters, idempotency."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from kombu import Connection
from prometheus_client import REGISTRY
from pymongo.database import Database

from lethe_common.events.consumer import (
    PROCESSED_COLLECTION,
    ConsumerSettings,
    EventConsumer,
    Subscription,
    processed_key,
    sweep_processed,
)
from lethe_common.events.envelope import Envelope
from lethe_common.events.publisher import EventPublisher, PublishError
from lethe_testing import delete_consumer_queues, wait_for

MAX_ATTEMPTS = 3


@dataclass
class Recorder:
    """A handler that fails its first ``failures`` calls per event id, and notes every call."""

    failures: int = 0
    calls: dict[str, list[float]] = field(default_factory=dict)

    def __call__(self, envelope: Envelope) -> None:
        times = self.calls.setdefault(envelope.id, [])
        times.append(time.monotonic())
        if len(times) <= self.failures:
            raise RuntimeError("handler failure for the test")


@dataclass
class Running:
    consumer: EventConsumer
    publisher: EventPublisher
    recorder: Recorder
    amqp_url: str

    def dead_letters(self) -> list[dict[str, object]]:
        bodies = []
        _, _, dead = self.consumer.queues()
        with Connection(self.amqp_url) as connection:
            queue = dead.bind(connection.channel())
            while (message := queue.get(no_ack=True, accept=["json"])) is not None:
                bodies.append(message.decode())
        return bodies


@pytest.fixture(params=["classic", "quorum"])
def start_consumer(
    request: pytest.FixtureRequest, amqp_url: str, test_db: Database, run_id: str
) -> Iterator[Callable[[Recorder], Running]]:
    """A consumer in a thread, with classic (dev) or quorum (production) queues."""
    stop = threading.Event()
    started: list[Running] = []

    def start(recorder: Recorder) -> Running:
        settings = ConsumerSettings(
            name=f"{run_id}.c", max_attempts=MAX_ATTEMPTS, retry_base_seconds=0.2, queue_type=request.param
        )
        publisher = EventPublisher(amqp_url)
        consumer = EventConsumer(
            amqp_url,
            settings,
            [Subscription("identity", "system.ping", recorder)],
            test_db[PROCESSED_COLLECTION],
            publisher,
        )
        threading.Thread(target=consumer.run, args=(stop,), daemon=True).start()
        assert consumer.ready.wait(10), "consumer did not start"
        running = Running(consumer, publisher, recorder, amqp_url)
        started.append(running)
        return running

    yield start
    stop.set()
    time.sleep(1.2)
    for running in started:
        running.publisher.close()
    delete_consumer_queues(amqp_url, f"{run_id}.c", MAX_ATTEMPTS)


def ping(note: str = "consumer-test") -> Envelope:
    return Envelope(type="system.ping", source="identity", payload={"ping_id": "1" * 32, "note": note})


def metric(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_an_event_delivered_twice_is_handled_once(
    start_consumer: Callable[[Recorder], Running], test_db: Database
) -> None:
    running = start_consumer(Recorder())
    event = ping()

    running.publisher.publish(event)
    running.publisher.publish(event)

    wait_for(lambda: running.recorder.calls.get(event.id), what="the first delivery")
    inbox = running.consumer.settings.inbox
    wait_for(
        lambda: (
            metric(
                "lethe_events_consumed_total",
                {"queue": inbox, "event_type": "system.ping", "outcome": "duplicate"},
            )
            >= 1
        ),
        what="the repeat to be dropped",
    )
    assert len(running.recorder.calls[event.id]) == 1
    assert [d["_id"] for d in test_db[PROCESSED_COLLECTION].find()] == [
        processed_key(running.consumer.settings.name, event)
    ]


def test_a_failing_handler_is_retried_with_growing_back_off(
    start_consumer: Callable[[Recorder], Running],
) -> None:
    running = start_consumer(Recorder(failures=2))
    event = ping()
    retries_before = metric(
        "lethe_consumer_retries_total",
        {"queue": running.consumer.settings.inbox, "event_type": "system.ping"},
    )

    running.publisher.publish(event)

    calls = wait_for(
        lambda: len(running.recorder.calls.get(event.id, [])) == 3 and running.recorder.calls[event.id],
        what="three attempts",
    )
    first_gap, second_gap = calls[1] - calls[0], calls[2] - calls[1]
    assert first_gap >= 0.18, "the first retry waits retry_base_seconds"
    assert second_gap >= 0.38, "the second retry waits twice as long"
    assert (
        metric(
            "lethe_consumer_retries_total",
            {"queue": running.consumer.settings.inbox, "event_type": "system.ping"},
        )
        == retries_before + 2
    )
    assert running.dead_letters() == []


def test_after_its_last_attempt_a_message_is_parked_and_counted(
    start_consumer: Callable[[Recorder], Running],
) -> None:
    running = start_consumer(Recorder(failures=99))
    inbox = running.consumer.settings.inbox
    dead_before = metric("lethe_consumer_dead_letters_total", {"queue": inbox, "reason": "exhausted"})
    event = ping()

    running.publisher.publish(event)

    wait_for(
        lambda: (
            metric("lethe_consumer_dead_letters_total", {"queue": inbox, "reason": "exhausted"})
            == dead_before + 1
        ),
        what="the dead-letter metric",
    )
    assert len(running.recorder.calls[event.id]) == MAX_ATTEMPTS
    parked = running.dead_letters()
    assert [body["id"] for body in parked if isinstance(body, dict)] == [event.id]


def test_a_body_that_is_no_envelope_is_parked_without_calling_the_handler(
    start_consumer: Callable[[Recorder], Running],
) -> None:
    running = start_consumer(Recorder())
    inbox = running.consumer.settings.inbox
    invalid_before = metric("lethe_consumer_dead_letters_total", {"queue": inbox, "reason": "invalid"})

    running.publisher.publish_body("identity.events", "system.ping", {"id": "not-an-id", "payload": []})

    wait_for(
        lambda: (
            metric("lethe_consumer_dead_letters_total", {"queue": inbox, "reason": "invalid"})
            == invalid_before + 1
        ),
        what="the invalid message to be parked",
    )
    assert running.recorder.calls == {}
    assert [body.get("id") for body in running.dead_letters() if isinstance(body, dict)] == ["not-an-id"]


def test_a_message_that_is_not_json_is_parked(
    start_consumer: Callable[[Recorder], Running], amqp_url: str
) -> None:
    running = start_consumer(Recorder())
    inbox = running.consumer.settings.inbox
    before = metric("lethe_consumer_dead_letters_total", {"queue": inbox, "reason": "undecodable"})

    with Connection(amqp_url) as connection:
        producer = connection.Producer()
        producer.publish(
            b"\x00not json",
            exchange="identity.events",
            routing_key="system.ping",
            content_type="application/octet-stream",
            content_encoding="binary",
        )

    wait_for(
        lambda: (
            metric("lethe_consumer_dead_letters_total", {"queue": inbox, "reason": "undecodable"})
            == before + 1
        ),
        what="the undecodable message to be parked",
    )
    assert running.recorder.calls == {}


def test_the_sweep_forgets_only_event_ids_past_their_retention(test_db: Database) -> None:
    processed = test_db[PROCESSED_COLLECTION]
    now = datetime.now(UTC)
    old, recent = (
        Envelope(
            type="system.ping",
            source="identity",
            occurred_at=now - timedelta(days=days),
            payload={"ping_id": "0" * 32, "note": ""},
        )
        for days in (31, 29)
    )
    processed.insert_many([{"_id": processed_key("c", old)}, {"_id": processed_key("c", recent)}])

    assert sweep_processed(processed, timedelta(days=30), now=now) == 1
    assert [d["_id"] for d in processed.find()] == [processed_key("c", recent)]


def test_a_bad_attempt_header_is_parked_not_looped(start_consumer: Callable[[Recorder], Running]) -> None:
    running = start_consumer(Recorder())
    inbox = running.consumer.settings.inbox
    before = metric("lethe_consumer_dead_letters_total", {"queue": inbox, "reason": "invalid"})
    event = ping()

    running.publisher.publish_body(
        "identity.events", "system.ping", event.to_wire(), headers={"x-lethe-attempt": "many"}
    )

    wait_for(
        lambda: (
            metric("lethe_consumer_dead_letters_total", {"queue": inbox, "reason": "invalid"}) == before + 1
        ),
        what="the message with a bad header to be parked",
    )
    assert running.recorder.calls == {}
    assert running.consumer.ready.is_set(), "the consumer must not have dropped its connection"


def test_a_mandatory_publish_no_queue_takes_is_not_reported_as_published(amqp_url: str) -> None:
    publisher = EventPublisher(amqp_url)
    try:
        with pytest.raises(PublishError, match="no queue took"):
            publisher.publish_body("", "no.such.queue", {"x": 1}, declare_topic=False, mandatory=True)
        publisher.publish_body("", "no.such.queue", {"x": 1}, declare_topic=False)  # not mandatory
    finally:
        publisher.close()


def test_queues_declared_before_the_retry_exchange_are_kept_and_retries_still_come_back(
    amqp_url: str, test_db: Database, run_id: str
) -> None:
    """Queues that dead-letter through the default exchange (declared by an earlier version)
    are declared again as they are; a retry comes back from them through the default
    exchange with the header naming its first exchange, and is accepted."""
    settings = ConsumerSettings(name=f"{run_id}.old", max_attempts=MAX_ATTEMPTS, retry_base_seconds=0.2)
    recorder, publisher, stop = Recorder(failures=1), EventPublisher(amqp_url), threading.Event()
    consumer = EventConsumer(
        amqp_url,
        settings,
        [Subscription("identity", "system.ping", recorder)],
        test_db[PROCESSED_COLLECTION],
        publisher,
    )
    with Connection(amqp_url) as connection:
        inbox, retries, dead = consumer.queues(legacy=True)
        for queue in (dead, *retries, inbox):
            queue.bind(connection.channel()).declare()
    try:
        threading.Thread(target=consumer.run, args=(stop,), daemon=True).start()
        assert consumer.ready.wait(10), "consumer did not start on the old queues"
        event = ping("old queues")
        publisher.publish(event)
        wait_for(lambda: len(recorder.calls.get(event.id, [])) == 2, what="the retry through the old queue")
        assert running_dead(amqp_url, settings.dead) == 0
    finally:
        stop.set()
        time.sleep(1.2)
        publisher.close()
        delete_consumer_queues(amqp_url, settings.name, MAX_ATTEMPTS)


def running_dead(amqp_url: str, queue: str) -> int:
    with Connection(amqp_url) as connection:
        _, count, _ = connection.channel().queue_declare(queue=queue, passive=True)
        return int(count)
