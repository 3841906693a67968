"""Benchmark: the end-to-end time of an erasure across the services, beside its floor.

    make bench
    .venv/bin/python tools/stack.py run -- .venv/bin/python bench/bench_erasure.py

Lethe: an erasure opened over gRPC (request stored with its event), published,
handled by every service in CONSENT_RECEIPT_SERVICES (all four), their receipts
published and filed, the request marked complete. Times come from the client (opened
to the first status read that says complete, milliseconds). Floor, in the same run: a
bare two-hop round trip through the broker (publish, a consumer answers on a second
queue, the answer is received), which is the least any fan-out with receipts costs.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from figures import report
from floors import broker_round_trips

from lethe.consent.v1 import consent_pb2 as pb
from lethe.consent.v1 import consent_pb2_grpc
from lethe_testing import start_stack, stop_stack, unique, wait_for

N = int(os.environ.get("BENCH_N", "100"))


def floor(amqp_url: str) -> None:
    """Publish a request, a consumer thread answers on a second queue, wait for the answer."""
    report("floor: broker round trip (ask, answer), confirmed", broker_round_trips(amqp_url, N))


def open_erasure(stub: consent_pb2_grpc.ConsentServiceStub) -> tuple[str, str]:
    """An erasure for a new person, as a logged-in person opens it: (request id, follow token)."""
    person = pb.Person(account_id=f"acc_{uuid.uuid4().hex}", email=f"{uuid.uuid4().hex}@bench.example")
    reply = stub.OpenPrivacyRequest(
        pb.OpenPrivacyRequestRequest(person=person, kind="erasure", authenticated=True), timeout=10
    )
    return str(reply.request.id), str(reply.follow_token)


def complete(stub: consent_pb2_grpc.ConsentServiceStub, request: tuple[str, str]) -> bool:
    view = stub.GetPrivacyRequest(pb.FollowRequest(request_id=request[0], token=request[1]), timeout=10)
    return bool(view.status == "complete")


def erasures() -> None:
    """Each erasure's time from opened to complete as its client sees it (polling its status)."""
    stack = start_stack(unique("bench"), Path(tempfile.mkdtemp(prefix="lethe-bench-")))
    try:
        channel = stack.backends["consent"].channel()
        stub = consent_pb2_grpc.ConsentServiceStub(channel)
        samples = []
        started = time.perf_counter()
        for _ in range(N):
            at = time.perf_counter()
            request = open_erasure(stub)
            wait_for(partial(complete, stub, request), 30, interval=0.005, what="the erasure to complete")
            samples.append((time.perf_counter() - at) * 1000)
        report("lethe: erasure opened -> complete, one at a time", samples, time.perf_counter() - started)

        started = time.perf_counter()

        def timed_open(_: int) -> tuple[float, tuple[str, str]]:
            return time.perf_counter(), open_erasure(stub)

        with ThreadPoolExecutor(8) as pool:
            opened = list(pool.map(timed_open, range(N)))
        done: dict[str, float] = {}

        def all_done() -> bool:
            for _, request in opened:
                if request[0] not in done and complete(stub, request):
                    done[request[0]] = time.perf_counter()
            return len(done) == len(opened)

        wait_for(all_done, 300, interval=0.05, what="every erasure to complete")
        report(
            "lethe: erasure opened -> complete, 8 concurrent",
            [(done[r[0]] - at) * 1000 for at, r in opened],
            time.perf_counter() - started,
        )
        channel.close()
    finally:
        stop_stack(stack)


def main() -> int:
    amqp_url = os.environ["LETHE_AMQP_URL"]
    print(
        f"Lethe erasure fan-out (identity and consent answer), {N} erasures each, on {os.cpu_count()} cores"
    )
    floor(amqp_url)
    erasures()
    return 0


if __name__ == "__main__":
    sys.exit(main())
