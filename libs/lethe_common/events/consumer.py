"""Consuming events: durable per-service queues, retries with back-off,
a dead-letter queue and idempotency by event id.

Topology for a consumer group ``<name>`` (usually the service's name):

* ``<name>.inbox``: durable, bound to ``<source>.events`` with each
  subscribed event type, and to ``<name>.retry`` with its own name (retries
  come back that way); rejected messages dead-letter to ``<name>.dead``.
* ``<name>.retry``: a direct exchange of the group's own, through which it
  publishes retries and the broker dead-letters; every queue below is bound
  to it with its own name. Nothing goes through the default exchange, which
  no service's broker user may write to (``events/permissions.py``).
* ``<name>.retry.<n>``: one durable queue per retry attempt with a queue-wide
  TTL (``base * 2**(n-1)`` seconds); expired messages dead-letter back into
  the inbox. One queue per attempt avoids head-of-line blocking of short
  delays behind long ones.
* ``<name>.dead``: where messages end after their last attempt, or at once
  when they are not valid envelopes or came through the wrong exchange. An
  alert watches its depth.

Queues declared before the retry exchange existed dead-letter through the
default exchange; they are kept as they are (declared again with their
arguments, which needs no permission on the default exchange).

Nothing from the bus is trusted: an envelope must arrive through its own
source's exchange, ``<source>.events``, which only that service's user may
write to. A retry carries the exchange it first came through in a header
(only this group's user and the broker write to its retry exchange).

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

from amqp.exceptions import AccessRefused, NotFound, PreconditionFailed
from kombu import Connection, Consumer, Exchange, Queue
from kombu.message import Message
from pymongo.errors import ConnectionFailure, DuplicateKeyError

from lethe_common.events.catalogue import check_payload
from lethe_common.events.envelope import Envelope, EnvelopeError
from lethe_common.events.permissions import retry_exchange_name
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
# The exchange a retried message first came through (set by this consumer, on its own
# retry exchange only).
EXCHANGE_HEADER = "x-lethe-exchange"
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

    @property
    def retry_exchange(self) -> str:
        return retry_exchange_name(self.name)

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

    def queues(self, *, legacy: bool = False) -> tuple[Queue, list[Queue], Queue]:
        """The inbox, retry queues and dead-letter queue, each bound to the retry exchange
        with its own name. ``legacy``: the dead-letter arguments of queues declared before
        the retry exchange existed (the default exchange)."""
        s = self.settings
        retry_exchange = Exchange(s.retry_exchange, type="direct", durable=True, auto_delete=False)
        dlx = "" if legacy else s.retry_exchange

        def queue(name: str, **arguments: Any) -> Queue:
            return Queue(
                name,
                exchange=retry_exchange,
                routing_key=name,
                durable=True,
                auto_delete=False,
                queue_arguments=self._queue_args(**arguments),
            )

        dead = queue(s.dead)
        inbox = queue(s.inbox, **{"x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": s.dead})
        retries = [
            queue(
                s.retry_queue(n),
                **{
                    "x-message-ttl": s.retry_delay_ms(n),
                    "x-dead-letter-exchange": dlx,
                    "x-dead-letter-routing-key": s.inbox,
                },
            )
            for n in range(1, s.max_attempts)
        ]
        return inbox, retries, dead

    def _declare(self, connection: Connection) -> tuple[Any, Queue]:
        """Declare the group's topology; return the channel to consume on and the inbox.

        A channel error closes the channel, so after one the next step opens another."""
        channel = connection.channel()
        queues, legacy = self.queues(), self.queues(legacy=True)
        pairs = list(zip((queues[2], *queues[1], queues[0]), (legacy[2], *legacy[1], legacy[0]), strict=True))
        inbox: Queue | None = None
        for queue, old in pairs:
            try:
                inbox = queue.bind(channel)
                inbox.declare()
            except PreconditionFailed:
                # Declared before the retry exchange existed: keep it with its arguments.
                channel = connection.channel()
                inbox = old.bind(channel)
                inbox.declare()
                log.info("queue kept with its earlier dead-letter target", extra={"queue": queue.name})
        assert inbox is not None  # the last pair is the inbox
        for source in sorted({source for source, _ in self._routes}):
            channel = self._ensure_exchange(connection, channel, events_exchange(source))
        bound = inbox.bind(channel)
        for source, event_type in self._routes:
            bound.bind_to(exchange=events_exchange(source).name, routing_key=event_type)
        return channel, bound

    @staticmethod
    def _ensure_exchange(connection: Connection, channel: Any, exchange: Exchange) -> Any:
        """Another service's exchange is declared by the broker set-up, and a service's user
        may not declare it: check that it exists (a passive declare needs no permission). If
        it does not, declare it, which works only where this user may (a broker without the
        set-up, as a test's own); otherwise the broker refuses and the consumer retries."""
        try:
            exchange.bind(channel).declare(passive=True)
            return channel
        except NotFound:
            channel = connection.channel()
            exchange.bind(channel).declare()
            return channel

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

    def _retry(
        self, body: dict[str, Any], message: Message, envelope: Envelope, attempt: int, exchange: str
    ) -> None:
        if attempt >= self.settings.max_attempts:
            log.error(
                "event handling failed for the last time, dead-lettered",
                extra={"event_id": envelope.id, "event_type": envelope.type, "attempt": attempt},
            )
            self._dead_letter(message, "exhausted")
            return
        try:
            self._publisher.publish_body(
                self.settings.retry_exchange,
                self.settings.retry_queue(attempt),
                body,
                headers={**(message.headers or {}), ATTEMPT_HEADER: attempt + 1, EXCHANGE_HEADER: exchange},
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

    def delivered_through(self, message: Message) -> str:
        """The exchange a message came through. A retry comes back through this group's
        retry exchange (or the default exchange, from a queue declared before it existed)
        and names the exchange it first came through in a header, which only this consumer
        sets: no other service's user may write to either exchange."""
        exchange = str((message.delivery_info or {}).get("exchange") or "")
        if exchange in ("", self.settings.retry_exchange):
            return str((message.headers or {}).get(EXCHANGE_HEADER) or "")
        return exchange

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
        exchange = self.delivered_through(message)
        if exchange != envelope.exchange:
            # Only the source's own broker user may write to <source>.events: an event that
            # came another way claims a source it does not have (a receipt for another
            # service, say). Nothing personal is logged: ids, type, source, exchange.
            log.warning(
                "event from another exchange than its source's dead-lettered",
                extra={
                    "event_id": envelope.id,
                    "event_type": envelope.type,
                    "source": envelope.source,
                    "exchange": exchange[:100],
                },
            )
            self._dead_letter(message, "wrong_exchange")
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
            self._retry(body, message, envelope, attempt, exchange)
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
            channel, inbox = self._declare(connection)
            channel.basic_qos(0, self.settings.prefetch, False)
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
            except AccessRefused as exc:
                self.ready.clear()
                log.error(
                    "the broker refused this service's user; are the broker's users, "
                    "permissions and exchanges set up (python -m lethe_common.events.broker_setup)?",
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
