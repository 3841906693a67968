"""What a consumer would receive from the bus: a private queue bound to an exchange."""

from __future__ import annotations

import time

from lethe_testing.waiting import unique, wait_for


class EventTap:
    """A private queue bound to ``<source>.events``: what a consumer would receive."""

    def __init__(self, amqp_url: str, source: str, routing_key: str = "#") -> None:
        from kombu import Connection, Queue

        from lethe_common.events.publisher import events_exchange

        self._connection = Connection(amqp_url)
        self._channel = self._connection.channel()
        self.queue = Queue(
            unique("tap"),
            exchange=events_exchange(source),
            routing_key=routing_key,
            exclusive=True,
            auto_delete=True,
        ).bind(self._channel)
        self.queue.declare()

    def drain(self, timeout: float = 0.5) -> list[dict[str, object]]:
        """Every body that arrives until ``timeout`` passes without a new one."""
        bodies = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.queue.get(no_ack=True, accept=["json"])
            if message is None:
                time.sleep(0.05)
                continue
            bodies.append(message.decode())
            deadline = time.monotonic() + timeout
        return bodies

    def wait_for_ids(self, ids: set[str], timeout: float = 20.0) -> list[dict[str, object]]:
        """Collect bodies until every id in ``ids`` was seen, then a short while longer."""
        seen: list[dict[str, object]] = []

        def all_seen() -> bool:
            seen.extend(self.drain(0.2))
            return ids <= {str(body.get("id")) for body in seen}

        wait_for(all_seen, timeout, what=f"events {sorted(ids)}")
        seen.extend(self.drain(0.5))
        return [body for body in seen if body.get("id") in ids]

    def __enter__(self) -> EventTap:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._connection.release()
