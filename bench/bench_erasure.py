"""Benchmark: the end-to-end time of an erasure across the services, beside its floor.

    make bench
    .venv/bin/python tools/stack.py run -- .venv/bin/python bench/bench_erasure.py

Lethe: an erasure opened over gRPC (request stored with its event), published,
handled by every service in CONSENT_RECEIPT_SERVICES (identity, consent), their
receipts published and filed, the request marked complete. Times come from the
store (received_at to completed_at, milliseconds). Floor, in the same run: a bare
two-hop round trip through the broker (publish, a consumer answers on a second
queue, the answer is received), which is the least any fan-out with receipts costs.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
from figures import report
from kombu import Connection, Consumer, Exchange, Producer, Queue

from lethe.consent.v1 import consent_pb2 as pb
from lethe.consent.v1 import consent_pb2_grpc
from lethe_common import mongo
from lethe_common.testing import start_stack, stop_stack, unique, wait_for

N = int(os.environ.get("BENCH_N", "100"))


def floor(amqp_url: str) -> None:
    """Publish a request, a consumer thread answers on a second queue, wait for the answer."""
    exchange = Exchange(unique("bench"), type="direct", durable=False, auto_delete=True)
    ask, answer = Queue(unique("ask"), exchange, "ask"), Queue(unique("answer"), exchange, "answer")
    stop = threading.Event()

    def responder() -> None:
        with Connection(amqp_url) as connection:
            producer = Producer(connection.channel(), exchange=exchange)

            def reply(body: object, message: object) -> None:
                producer.publish(body, routing_key="answer", serializer="json", delivery_mode=2)
                message.ack()  # type: ignore[attr-defined]
            with Consumer(connection.channel(), [ask], callbacks=[reply], accept=["json"]):
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        connection.drain_events(timeout=0.2)

    with Connection(amqp_url, transport_options={"confirm_publish": True}) as connection:
        for queue in (ask, answer):
            queue.bind(connection.channel()).declare()
        thread = threading.Thread(target=responder, daemon=True)
        thread.start()
        time.sleep(0.5)
        producer = Producer(connection.channel(), exchange=exchange)
        got: list[object] = []

        def received(body: object, message: object) -> None:
            got.append(body)
            message.ack()  # type: ignore[attr-defined]
        consumer = Consumer(connection.channel(), [answer], accept=["json"], callbacks=[received])
        samples = []
        with consumer:
            for i in range(N):
                started = time.perf_counter()
                producer.publish({"i": i}, routing_key="ask", serializer="json", delivery_mode=2)
                while len(got) <= i:
                    connection.drain_events(timeout=5)
                samples.append((time.perf_counter() - started) * 1000)
        stop.set()
        thread.join(2)
        report("floor: broker round trip (ask, answer), confirmed", samples)


def wait_complete(db: mongo.Db, ids: list[str], timeout: float, interval: float) -> None:
    wait_for(lambda: db.privacy_requests.count_documents(
        {"_id": {"$in": ids}, "status": "complete"}) == len(ids), timeout, interval=interval,
        what="every erasure to complete")


def erasures(mongo_url: str) -> None:
    stack = start_stack(unique("bench"), Path(tempfile.mkdtemp(prefix="lethe-bench-")))
    client = mongo.connect(mongo_url, "lethe-bench")
    try:
        consent = stack.backends["consent"]
        db = client[consent.db_name]
        channel = grpc.insecure_channel(consent.grpc_addr)
        stub = consent_pb2_grpc.ConsentServiceStub(channel)

        def erase(_: object = None) -> str:
            person = pb.Person(account_id=f"acc_{uuid.uuid4().hex}",
                               email=f"{uuid.uuid4().hex}@bench.example")
            return str(stub.OpenPrivacyRequest(pb.OpenPrivacyRequestRequest(
                person=person, kind="erasure", authenticated=True), timeout=10).request.id)

        for label, workers in (("one at a time", 1), ("8 concurrent", 8)):
            started = time.perf_counter()
            if workers == 1:
                ids = []
                for _ in range(N):
                    ids.append(erase())
                    wait_complete(db, ids[-1:], 30, 0.005)
            else:
                with ThreadPoolExecutor(workers) as pool:
                    ids = list(pool.map(erase, range(N)))
                wait_complete(db, ids, 300, 0.2)
            wall = time.perf_counter() - started
            docs = db.privacy_requests.find({"_id": {"$in": ids}},
                                            projection={"received_at": 1, "completed_at": 1})
            report(f"lethe: erasure opened -> complete, {label}",
                   [(d["completed_at"] - d["received_at"]).total_seconds() * 1000 for d in docs], wall)
        channel.close()
    finally:
        client.close()
        stop_stack(stack)


def main() -> int:
    mongo_url, amqp_url = os.environ["LETHE_MONGO_URL"], os.environ["LETHE_AMQP_URL"]
    print(f"Lethe erasure fan-out (identity and consent answer), {N} erasures each, "
          f"on {os.cpu_count()} cores")
    floor(amqp_url)
    erasures(mongo_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
