"""Publishing envelopes on RabbitMQ with publisher confirms.

nameko's conventions: a durable topic exchange ``<source>.events``, the event
type as routing key, a JSON body. Messages are persistent and every publish
waits for the broker's confirm, so "published" means "the broker has it".
"""

from __future__ import annotations

import logging
import threading
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
    new connection.
    """

    def __init__(self, amqp_url: str, *, confirm_timeout: float = 5.0,
                 connect_timeout: float = 3.0) -> None:
        self._url = amqp_url
        self._confirm_timeout = confirm_timeout
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        self._declared: set[str] = set()

    def _ensure_producer(self) -> Producer:
        if self._producer is None:
            connection = Connection(
                self._url, connect_timeout=self._connect_timeout,
                transport_options={"confirm_publish": True},
                heartbeat=0,
            )
            connection.ensure_connection(max_retries=1, timeout=self._connect_timeout)
            self._connection = connection
            self._producer = Producer(connection.channel())
            self._declared.clear()
        return self._producer

    def _reset(self) -> None:
        connection, self._connection, self._producer = self._connection, None, None
        if connection is not None:
            try:
                connection.release()
            except Exception:
                log.debug("closing a broken AMQP connection failed", exc_info=True)

    def publish(self, envelope: Envelope) -> None:
        """Publish and wait for the broker's confirm; raise :class:`PublishError` if none."""
        self.publish_body(envelope.exchange, envelope.type, envelope.to_wire(),
                          headers={"x-lethe-event-id": envelope.id})
        EVENTS_PUBLISHED.labels(event_type=envelope.type).inc()

    def publish_body(self, exchange: str, routing_key: str, body: dict[str, Any], *,
                     headers: dict[str, Any] | None = None, declare_topic: bool = True,
                     expiration: float | None = None) -> None:
        """Publish a JSON body to an exchange ("" is the default exchange)."""
        with self._lock:
            try:
                producer = self._ensure_producer()
                declare = []
                if declare_topic and exchange and exchange not in self._declared:
                    declare = [Exchange(exchange, type="topic", durable=True)]
                producer.publish(
                    body, exchange=exchange, routing_key=routing_key,
                    serializer="json", delivery_mode=2, headers=headers or {},
                    declare=declare, timeout=self._confirm_timeout,
                    expiration=expiration, retry=False,
                )
                if declare:
                    self._declared.add(exchange)
            except Exception as exc:
                PUBLISH_FAILURES.inc()
                self._reset()
                raise PublishError(f"broker did not confirm {routing_key}: {exc}") from exc

    def ping(self) -> bool:
        """True when the broker answers."""
        with self._lock:
            try:
                self._ensure_producer()
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
