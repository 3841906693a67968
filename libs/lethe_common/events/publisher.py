"""Publishing envelopes on RabbitMQ with publisher confirms.

nameko's conventions: a durable topic exchange ``<source>.events``, the event
type as routing key, a JSON body. Messages are persistent and every publish
waits for the broker's confirm, so "published" means "the broker has it".
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from kombu import Connection, Exchange, Producer

from lethe_common.events.envelope import Envelope
from lethe_common.metrics import EVENTS_PUBLISHED, PUBLISH_FAILURES

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """The broker did not confirm a message."""


def events_exchange(source: str) -> Exchange:
    return Exchange(f"{source}.events", type="topic", durable=True, auto_delete=False)


class EventPublisher:
    """One confirmed-publish channel per process, safe to share between threads.

    A kombu connection is not thread-safe, so publishes are serialised by a
    lock; a publish that fails drops the connection, and the next one opens a
    new connection. After a failed connect, publishes fail at once for
    ``retry_after`` seconds instead of each waiting for the broker: the outbox
    relay publishes those events later, and request threads are not held up
    behind the lock.
    """

    def __init__(
        self,
        amqp_url: str,
        *,
        confirm_timeout: float = 5.0,
        connect_timeout: float = 3.0,
        retry_after: float = 2.0,
    ) -> None:
        self._url = amqp_url
        self._confirm_timeout = confirm_timeout
        self._connect_timeout = connect_timeout
        self._retry_after = retry_after
        self._down_until = 0.0
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        self._declared: set[str] = set()
        self._returned: list[str] = []

    def _on_return(self, exception: Exception, exchange: str, routing_key: str, message: Any) -> None:
        self._returned.append(routing_key)

    def _ensure_producer(self, *, fail_fast: bool = True) -> Producer:
        if self._producer is None:
            if fail_fast and time.monotonic() < self._down_until:
                raise ConnectionError("the broker was unreachable moments ago")
            connection = Connection(
                self._url,
                connect_timeout=self._connect_timeout,
                transport_options={"confirm_publish": True},
                heartbeat=0,
            )
            try:
                connection.ensure_connection(
                    max_retries=1, interval_start=0, interval_step=0, timeout=self._connect_timeout
                )
            except Exception:
                self._down_until = time.monotonic() + self._retry_after
                connection.collect()
                raise
            self._connection = connection
            self._producer = Producer(connection.channel(), on_return=self._on_return)
            self._declared.clear()
        return self._producer

    def _reset(self) -> None:
        """Drop the connection without the close handshake, which can wait forever on a
        broker that has stopped reading (a memory or disk alarm)."""
        connection, self._connection, self._producer = self._connection, None, None
        if connection is not None:
            connection.collect()

    def publish(self, envelope: Envelope) -> None:
        """Publish and wait for the broker's confirm; raise :class:`PublishError` if none."""
        self.publish_body(
            envelope.exchange, envelope.type, envelope.to_wire(), headers={"x-lethe-event-id": envelope.id}
        )
        EVENTS_PUBLISHED.labels(event_type=envelope.type).inc()

    def publish_body(
        self,
        exchange: str,
        routing_key: str,
        body: dict[str, Any],
        *,
        headers: dict[str, Any] | None = None,
        declare_topic: bool = True,
        mandatory: bool = False,
        fail_fast: bool = True,
    ) -> None:
        """Publish a JSON body to an exchange ("" is the default exchange).

        With ``mandatory`` a message no queue takes counts as not published: the
        broker returns it before it confirms, and this raises :class:`PublishError`.
        Events are not mandatory (no subscriber yet is no error); retries are.
        ``fail_fast=False`` tries the broker even right after a failed connect.
        """
        with self._lock:
            try:
                producer = self._ensure_producer(fail_fast=fail_fast)
                declare = []
                if declare_topic and exchange and exchange not in self._declared:
                    declare = [Exchange(exchange, type="topic", durable=True)]
                self._returned.clear()
                producer.publish(
                    body,
                    exchange=exchange,
                    routing_key=routing_key,
                    serializer="json",
                    delivery_mode=2,
                    headers=headers or {},
                    declare=declare,
                    timeout=self._confirm_timeout,
                    mandatory=mandatory,
                    retry=False,
                )
                if declare:
                    self._declared.add(exchange)
            except Exception as exc:
                PUBLISH_FAILURES.inc()
                self._reset()
                raise PublishError(f"broker did not confirm {routing_key}: {exc}") from exc
            if self._returned:
                PUBLISH_FAILURES.inc()
                raise PublishError(f"no queue took the message for {routing_key}")

    def ping(self) -> bool:
        """True when the broker answers."""
        with self._lock:
            try:
                self._ensure_producer(fail_fast=False)
                assert self._connection is not None
                self._connection.drain_events(timeout=0.001)
            except TimeoutError:
                return True
            except Exception:  # noqa: BLE001 - any failure means "not reachable"
                self._reset()
                return False
            return True

    def close(self) -> None:
        with self._lock:
            self._reset()
