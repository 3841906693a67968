"""Consuming events: durable per-service queues, retries with back-off,
a dead-letter queue and idempotency by event id.

Topology for a consumer group ``<name>`` (usually the service's name):

* ``<name>.inbox``: durable, bound to ``<source>.events`` with each
  subscribed event type; rejected messages dead-letter to ``<name>.dead``.
* ``<name>.retry.<n>``: one durable queue per retry attempt with a queue-wide
  TTL (``base * 2**(n-1)`` seconds); expired messages dead-letter back into
  the inbox. One queue per attempt avoids head-of-line blocking of short
  delays behind long ones.
* ``<name>.dead``: where messages end after their last attempt, or at once
  when they are not valid envelopes. An alert watches its depth.

A failed message is republished to the retry queue with publisher confirms
before the original is acked, so it cannot be lost in between. A handled
event is recorded under the key ``<day it occurred>/<consumer>/<event id>``:
a repeat finds that key and is acked without calling the handler again, and
the sweep deletes old days as one ``_id`` range.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from amqp.exceptions import PreconditionFailed
from kombu import Connection, Consumer, Queue
from kombu.message import Message
from pymongo.errors import ConnectionFailure, DuplicateKeyError

from lethe_common.events.catalogue import check_payload
from lethe_common.events.envelope import Envelope, EnvelopeError
from lethe_common.events.publisher import EventPublisher, PublishError, events_exchange
from lethe_common.metrics import (
    CONSUMER_LAG,
    CONSUMER_QUEUE_DEPTH,
    CONSUMER_RETRIES,
    DEAD_LETTERS,
    EVENTS_CONSUMED,
)
from lethe_common.mongo import Coll

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-lethe-attempt"
PROCESSED_COLLECTION = "processed_events"

Handler = Callable[[Envelope], None]


def processed_key(consumer: str, envelope: Envelope) -> str:
    """Where a handled event is recorded: by the day it occurred, so old days go as a range."""
    return f"{envelope.occurred_at.astimezone(UTC):%Y-%m-%d}/{consumer}/{envelope.id}"


def sweep_processed(processed: Coll, older_than: timedelta, now: datetime | None = None) -> int:
    """Forget handled events that occurred before the day ``older_than`` ago: far past any
    redelivery (a retry is hours at most)."""
    cutoff = (now or datetime.now(UTC)) - older_than
    return int(processed.delete_many({"_id": {"$lt": f"{cutoff:%Y-%m-%d}/"}}).deleted_count)


@dataclass(frozen=True)
class Subscription:
    """Call ``handler`` for events of ``event_type`` published by ``source``."""

    source: str
    event_type: str
    handler: Handler


@dataclass(frozen=True)
class ConsumerSettings:
    name: str
    max_attempts: int = 5
    retry_base_seconds: float = 1.0
    queue_type: str = "classic"
    prefetch: int = 10

    @property
    def inbox(self) -> str:
        return f"{self.name}.inbox"

    @property
    def dead(self) -> str:
        return f"{self.name}.dead"

    def retry_queue(self, attempt: int) -> str:
        return f"{self.name}.retry.{attempt}"

    def retry_delay_ms(self, attempt: int) -> int:
        return int(self.retry_base_seconds * 1000 * 2 ** (attempt - 1))


class EventConsumer:
    """Runs in a worker thread until ``stop`` is set; reconnects when the broker goes away."""

    def __init__(
        self,
        amqp_url: str,
        settings: ConsumerSettings,
        subscriptions: Sequence[Subscription],
        processed: Coll,
        publisher: EventPublisher,
    ) -> None:
        self._url = amqp_url
        self.settings = settings
        self._routes = {(s.source, s.event_type): s.handler for s in subscriptions}
        self._processed = processed
        self._publisher = publisher
        self._store_backoff = 0.0
        self.ready = threading.Event()

    # -- topology ---------------------------------------------------------
    def _queue_args(self, **extra: Any) -> dict[str, Any]:
        return {"x-queue-type": self.settings.queue_type, **extra}

    def queues(self) -> tuple[Queue, list[Queue], Queue]:
        s = self.settings
        dead = Queue(s.dead, routing_key=s.dead, durable=True, queue_arguments=self._queue_args())
        inbox = Queue(
            s.inbox,
            durable=True,
            auto_delete=False,
            queue_arguments=self._queue_args(
                **{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": s.dead}
            ),
        )
        retries = [
            Queue(
                s.retry_queue(n),
                routing_key=s.retry_queue(n),
                durable=True,
                queue_arguments=self._queue_args(
                    **{
                        "x-message-ttl": s.retry_delay_ms(n),
                        "x-dead-letter-exchange": "",
                        "x-dead-letter-routing-key": s.inbox,
                    }
                ),
            )
            for n in range(1, s.max_attempts)
        ]
        return inbox, retries, dead

    def _declare(self, channel: Any) -> Queue:
        inbox, retries, dead = self.queues()
        for queue in (dead, *retries):
            queue.bind(channel).declare()
        bound = inbox.bind(channel)
        bound.declare()
        for source, event_type in self._routes:
            exchange = events_exchange(source).bind(channel)
            exchange.declare()
            bound.bind_to(exchange=exchange, routing_key=event_type)
        return bound

    # -- handling ---------------------------------------------------------
    def _dead_letter(self, message: Message, reason: str) -> None:
        DEAD_LETTERS.labels(queue=self.settings.inbox, reason=reason).inc()
        message.reject(requeue=False)

    def _on_decode_error(self, message: Message, exc: Exception) -> None:
        log.warning("undecodable message dead-lettered", extra={"error": type(exc).__name__})
        self._dead_letter(message, "undecodable")

    def _already_processed(self, envelope: Envelope) -> bool:
        return (
            self._processed.find_one(
                {"_id": processed_key(self.settings.name, envelope)}, projection={"_id": 1}
            )
            is not None
        )

    def _mark_processed(self, envelope: Envelope) -> None:
        with contextlib.suppress(DuplicateKeyError):
            self._processed.insert_one(
                {
                    "_id": processed_key(self.settings.name, envelope),
                    "event_type": envelope.type,
                    "processed_at": datetime.now(UTC),
                }
            )

    def _retry(self, body: dict[str, Any], message: Message, envelope: Envelope, attempt: int) -> None:
        if attempt >= self.settings.max_attempts:
            log.error(
                "event handling failed for the last time, dead-lettered",
                extra={"event_id": envelope.id, "event_type": envelope.type, "attempt": attempt},
            )
            self._dead_letter(message, "exhausted")
            return
        try:
            self._publisher.publish_body(
                "",
                self.settings.retry_queue(attempt),
                body,
                headers={**(message.headers or {}), ATTEMPT_HEADER: attempt + 1},
                declare_topic=False,
                mandatory=True,
                fail_fast=False,
            )
        except PublishError:
            # Parked rather than redelivered at once: a retry path that is broken
            # would otherwise run the handler in a tight loop. The alert on the
            # dead-letter queue brings a person to it.
            log.error("could not schedule a retry; dead-lettered", extra={"event_id": envelope.id})
            self._dead_letter(message, "retry_unavailable")
            return
        CONSUMER_RETRIES.labels(queue=self.settings.inbox, event_type=envelope.type).inc()
        message.ack()

    def _wait_for_store(self, message: Message, envelope: Envelope) -> None:
        """The store does not answer: that says nothing about the message, so it goes back to
        the queue without using up an attempt, and this consumer pauses (1 s, doubling to
        30 s) before it takes the next one. An outage of any length parks nothing."""
        self._store_backoff = min(max(self._store_backoff * 2, 1.0), 30.0)
        log.warning(
            "the store does not answer; event requeued",
            extra={"event_id": envelope.id, "pause_seconds": self._store_backoff},
        )
        EVENTS_CONSUMED.labels(queue=self.settings.inbox, event_type=envelope.type, outcome="requeued").inc()
        message.requeue()
        time.sleep(self._store_backoff)

    def handle(self, body: Any, message: Message) -> None:
        try:
            attempt = int((message.headers or {}).get(ATTEMPT_HEADER, 1))
            envelope = Envelope.from_wire(body)
            check_payload(envelope)
            handler = self._routes[(envelope.source, envelope.type)]
        except (EnvelopeError, KeyError, TypeError, ValueError) as exc:
            log.warning("invalid event dead-lettered", extra={"error": str(exc)[:200]})
            self._dead_letter(message, "invalid")
            return
        queue = self.settings.inbox
        try:
            if self._already_processed(envelope):
                EVENTS_CONSUMED.labels(queue=queue, event_type=envelope.type, outcome="duplicate").inc()
                message.ack()
                return
            handler(envelope)
            self._mark_processed(envelope)
        except ConnectionFailure:
            self._wait_for_store(message, envelope)
            return
        except Exception:
            log.warning(
                "event handler failed",
                exc_info=True,
                extra={"event_id": envelope.id, "event_type": envelope.type, "attempt": attempt},
            )
            EVENTS_CONSUMED.labels(queue=queue, event_type=envelope.type, outcome="failed").inc()
            self._retry(body, message, envelope, attempt)
            return
        self._store_backoff = 0.0
        message.ack()
        EVENTS_CONSUMED.labels(queue=queue, event_type=envelope.type, outcome="handled").inc()
        CONSUMER_LAG.labels(queue=queue).observe(
            max(0.0, (datetime.now(UTC) - envelope.occurred_at).total_seconds())
        )

    # -- loop -------------------------------------------------------------
    def _update_depth(self, channel: Any) -> None:
        for name in (self.settings.inbox, self.settings.dead):
            _, count, _ = channel.queue_declare(queue=name, passive=True)
            CONSUMER_QUEUE_DEPTH.labels(queue=name).set(count)

    def _consume(self, stop: threading.Event) -> None:
        with Connection(self._url, heartbeat=30, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1, timeout=3)
            channel = connection.channel()
            channel.basic_qos(0, self.settings.prefetch, False)
            inbox = self._declare(channel)
            consumer = Consumer(
                channel,
                queues=[inbox],
                callbacks=[self.handle],
                on_decode_error=self._on_decode_error,
                accept=["json"],
            )
            with consumer:
                self.ready.set()
                log.info("consuming", extra={"queue": self.settings.inbox})
                ticks = 0
                while not stop.is_set():
                    try:
                        connection.drain_events(timeout=1)
                    except TimeoutError:
                        connection.heartbeat_check()
                    ticks += 1
                    if ticks % 10 == 1:
                        self._update_depth(channel)

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop`` is set, reconnecting with back-off."""
        delay = 1.0
        while not stop.is_set():
            try:
                self._consume(stop)
                delay = 1.0
            except PreconditionFailed as exc:
                self.ready.clear()
                log.error(
                    "a queue exists with other arguments (queue type, TTL, dead-letter "
                    "target) than this configuration declares; migrate or delete it",
                    extra={"queue": self.settings.inbox, "error": str(exc)[:300]},
                )
            except Exception:
                self.ready.clear()
                log.warning(
                    "consumer lost its connection; reconnecting",
                    exc_info=True,
                    extra={"queue": self.settings.inbox},
                )
            else:
                continue
            stop.wait(delay)
            delay = min(delay * 2, 30.0)
