"""Benchmark of the event path, each figure beside its floor measured in the same run.

    make bench
    .venv/bin/python tools/stack.py run -- .venv/bin/python bench/bench_events.py

Floors: a bare insert into the store and a bare confirmed persistent publish.
Lethe: the diagnostic Ping over gRPC (insert with its outbox event, confirmed publish,
outbox cleared), sequential and from 8 threads, and the end-to-end time from the write
until the worker of every service has handled the event. Prints figures; asserts nothing.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from figures import report
from kombu import Connection, Exchange, Producer, Queue

from lethe.diagnostics.v1 import diagnostics_pb2 as pb
from lethe.diagnostics.v1 import diagnostics_pb2_grpc as pb_grpc
from lethe_common import mongo
from lethe_testing import Stack, start_stack, stop_stack, unique, wait_for

N = int(os.environ.get("BENCH_N", "300"))


def timed(call: Callable[[], object], n: int) -> tuple[list[float], float]:
    samples, started = [], time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples, time.perf_counter() - started


def floors(mongo_url: str, amqp_url: str) -> None:
    client = mongo.connect(mongo_url, "lethe-bench")
    coll = client[unique("bench")]["floor"]
    report("floor: store insert_one", *timed(lambda: coll.insert_one({"v": 1}), N))
    report(
        "floor: store update_one by _id",
        *timed(lambda: coll.update_one({"_id": 1}, {"$inc": {"v": 1}}, upsert=True), N),
    )
    client.drop_database(coll.database.name)
    with Connection(amqp_url, transport_options={"confirm_publish": True}) as connection:
        exchange = Exchange("bench.events", type="topic", durable=True)
        producer = Producer(connection.channel(), exchange=exchange)
        producer.declare()
        # Four durable queues bound, as for an event every backend consumes.
        queues = [Queue(unique("bench"), exchange, routing_key="bench.floor", durable=True) for _ in range(4)]
        for queue in queues:
            queue.bind(connection.channel()).declare()
        report(
            "floor: publish to 4 durable queues, confirmed",
            *timed(
                lambda: producer.publish(
                    {"v": 1}, routing_key="bench.floor", delivery_mode=2, serializer="json", retry=False
                ),
                N,
            ),
        )
        for queue in queues:
            queue.bind(connection.channel()).delete()
        exchange.bind(connection.channel()).delete()


def lethe(mongo_url: str) -> None:
    stack = start_stack(unique("bench"), Path(tempfile.mkdtemp(prefix="lethe-bench-")))
    try:
        identity = stack.backends["identity"]
        channel = identity.channel()
        stub = pb_grpc.DiagnosticsStub(channel)
        ids: list[str] = []
        samples, wall = timed(lambda: ids.append(stub.Ping(pb.PingRequest(note="bench")).ping_id), N)
        report("lethe: Ping (write + outbox + confirmed publish)", samples, wall)
        with ThreadPoolExecutor(8) as pool:
            started = time.perf_counter()
            results = list(
                pool.map(lambda _: timed(lambda: stub.Ping(pb.PingRequest(note="b8")), 1)[0][0], range(N))
            )
            report("lethe: Ping, 8 concurrent clients", results, time.perf_counter() - started)
        end_to_end(stack, mongo_url, ids)
        channel.close()
    finally:
        stop_stack(stack)


def end_to_end(stack: Stack, mongo_url: str, ids: list[str]) -> None:
    client = mongo.connect(mongo_url, "lethe-bench")
    dbs = {name: client[b.db_name] for name, b in stack.backends.items()}
    seen_ids = [f"{ping_id}/identity" for ping_id in ids]  # pings_seen: <ping id>/<source>
    wait_for(
        lambda: all(
            db["pings_seen"].count_documents({"_id": {"$in": seen_ids}}) == len(ids) for db in dbs.values()
        ),
        timeout=120,
        what="every worker to handle every ping",
    )
    created = {d["_id"]: d["created_at"] for d in dbs["identity"]["pings"].find({"_id": {"$in": ids}})}
    last_seen: dict[str, float] = {}
    for db in dbs.values():
        for d in db["pings_seen"].find({"_id": {"$in": seen_ids}}):
            ping_id = d["_id"].split("/", 1)[0]
            lag = (d["seen_at"] - created[ping_id]).total_seconds() * 1000
            last_seen[ping_id] = max(lag, last_seen.get(ping_id, 0.0))
    report("lethe: write -> handled by all 4 workers", list(last_seen.values()))
    client.close()


def main() -> int:
    mongo_url, amqp_url = os.environ["LETHE_MONGO_URL"], os.environ["LETHE_AMQP_URL"]
    print(f"Lethe event path, {N} operations each, on {os.cpu_count()} cores (store timestamps in ms)")
    floors(mongo_url, amqp_url)
    lethe(mongo_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
