"""Floors the benchmarks share: the least a step costs on this machine, measured in the run."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from kombu import Connection, Consumer, Exchange, Producer, Queue

from lethe_testing import unique


def broker_round_trips(amqp_url: str, n: int) -> list[float]:
    """Publish (confirmed, persistent), a consumer thread answers on a second queue; ms each."""
    exchange = Exchange(unique("floor"), type="direct", durable=False, auto_delete=True)
    ask, answer = Queue(unique("ask"), exchange, "ask"), Queue(unique("answer"), exchange, "answer")
    stop = threading.Event()

    def responder() -> None:
        with Connection(amqp_url) as connection:
            producer = Producer(connection.channel(), exchange=exchange)

            def reply(body: object, message: Any) -> None:
                producer.publish(body, routing_key="answer", serializer="json", delivery_mode=2)
                message.ack()

            with Consumer(connection.channel(), [ask], callbacks=[reply], accept=["json"]):
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        connection.drain_events(timeout=0.2)

    samples = []
    with Connection(amqp_url, transport_options={"confirm_publish": True}) as connection:
        for queue in (ask, answer):
            queue.bind(connection.channel()).declare()
        thread = threading.Thread(target=responder, daemon=True)
        thread.start()
        time.sleep(0.5)
        producer = Producer(connection.channel(), exchange=exchange)
        got: list[object] = []

        def received(body: object, message: Any) -> None:
            got.append(body)
            message.ack()

        with Consumer(connection.channel(), [answer], accept=["json"], callbacks=[received]):
            for i in range(n):
                started = time.perf_counter()
                producer.publish({"i": i}, routing_key="ask", serializer="json", delivery_mode=2)
                while len(got) <= i:
                    connection.drain_events(timeout=5)
                samples.append((time.perf_counter() - started) * 1000)
        stop.set()
        thread.join(2)
    return samples
