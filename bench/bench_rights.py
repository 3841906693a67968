"""Issue 14's benchmark: erasure end to end at a steady 20 a second for 60 s, beside its
floor, at 1,000 and 100,000 stored people; the proof of erasure that follows each; one export.

    make bench
    .venv/bin/python tools/stack.py run -- .venv/bin/python bench/bench_rights.py
    .venv/bin/python tools/stack.py run -- .venv/bin/python bench/bench_rights.py --sizes 1000 --seconds 20

Starts its own stack (every backend as 2 API and 2 worker replicas, a gateway) on the store,
broker and SMTP sink of ``tools/stack.py run``, preloads people with ``tools/seed.py`` (each
a verified account with its consent, a confirmed newsletter subscription and a completed,
blocked order) and for each size measures:

- **erasure, accepted -> all receipts in**: erasures of seeded people, as a logged-in
  person's (consent's ``OpenPrivacyRequest``), first calm (``--calm-rate``, 4 a second for
  10 s: what one costs), then at ``--rate`` a second for ``--seconds`` (20 for 60). The time
  of each is taken from the request itself: from ``received_at`` (accepted) to
  ``completed_at`` (the last receipt filed), both written by consent, so no polling adds to
  it. p50 and p99, each service's receipt, and the rate at which they completed; any not
  complete three minutes after the last was opened counts as missed.
- **floor, same run**: one broker round trip (publish with confirm, a consumer answers on a
  second queue, the answer arrives) plus one store delete by ``_id`` in a service's database
  (the services work in parallel, so one delete is on the path; the four are measured).
- **proof of erasure**: the automatic runs, here ``--proof-delay`` (120 s) after each
  completion so that their full scans do not share the CPU with the erasures measured
  (outcomes, and how long until all were stored), and one staff run (``VerifyErasure``) alone.
- **export**: ``GET /api/v1/me/data-export`` of a logged-in seeded person, 20 times.

Prints figures; asserts nothing, but exits 1 when an erasure was missed or a proof failed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from figures import report
from floors import broker_round_trips
from pymongo import MongoClient

from lethe.consent.v1 import consent_pb2 as pb
from lethe.consent.v1 import consent_pb2_grpc
from lethe_common.staff import PRIVACY
from lethe_testing import Stack, start_stack, stop_stack, unique
from lethe_testing.staff import staff_metadata

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import seed as seeding  # noqa: E402 - tools/ is not a package

Client = MongoClient[dict[str, Any]]
ERASED_BASE = 10_000_000


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * share + 0.5) - 1))]


# -- the floor ------------------------------------------------------------------------------------
def store_deletes(client: Client, stack: Stack, n: int) -> list[float]:
    """A delete by ``_id`` of an existing document in each service's database; ms each."""
    samples = []
    for backend in stack.backends.values():
        scratch = client[backend.db_name]["bench_floor"]
        for i in range(n):
            scratch.insert_one({"_id": f"floor/{i}", "v": i})
            started = time.perf_counter()
            scratch.delete_one({"_id": f"floor/{i}"})
            samples.append((time.perf_counter() - started) * 1000)
        scratch.drop()
    return samples


# -- erasures -------------------------------------------------------------------------------------
def open_erasures(stack: Stack, people: list[seeding.SeededPerson], rate: float) -> list[str]:
    """Open one erasure per person at ``rate`` a second (each on time, from a pool of callers)."""
    opened: list[str] = []
    lock = threading.Lock()
    with stack.backends["consent"].channel() as channel:
        stub = consent_pb2_grpc.ConsentServiceStub(channel)

        def open_one(person: seeding.SeededPerson) -> None:
            reply = stub.OpenPrivacyRequest(
                pb.OpenPrivacyRequestRequest(
                    person=pb.Person(account_id=person.account_id, email=person.email),
                    kind="erasure",
                    authenticated=True,
                ),
                timeout=30,
            )
            with lock:
                opened.append(reply.request.id)

        started = time.perf_counter()
        threads = []
        for n, person in enumerate(people):
            time.sleep(max(0.0, started + n / rate - time.perf_counter()))
            thread = threading.Thread(target=open_one, args=(person,))
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join(60)
    return opened


def completion_times(client: Client, stack: Stack, request_ids: list[str]) -> dict[str, tuple[Any, Any]]:
    """(received_at, completed_at) of each complete request, as consent wrote them."""
    db = client[stack.backends["consent"].db_name]
    received = {d["_id"]: d["received_at"] for d in db.privacy_requests.find({"_id": {"$in": request_ids}})}
    found = {}
    for request_id in request_ids:
        for step in db.privacy_request_steps.find(
            {"_id": {"$gte": f"{request_id}/", "$lt": f"{request_id}0"}}
        ):
            if step.get("status") == "complete" and step.get("completed_at"):
                found[request_id] = (received[request_id], step["completed_at"])
    return found


def receipt_times(client: Client, stack: Stack, times: dict[str, tuple[Any, Any]]) -> dict[str, list[float]]:
    """Per service: ms from each request's acceptance to that service's receipt being filed."""
    db = client[stack.backends["consent"].db_name]
    per: dict[str, list[float]] = {}
    for doc in db.privacy_receipts.find({"request_id": {"$in": list(times)}}):
        received = times[doc["request_id"]][0]
        per.setdefault(doc["service"], []).append((doc["received_at"] - received).total_seconds() * 1000)
    return {service: sorted(samples) for service, samples in sorted(per.items())}


def verification_times(client: Client, stack: Stack, request_ids: list[str]) -> dict[str, tuple[str, Any]]:
    """(outcome, checked_at) of the first proof of each request."""
    db = client[stack.backends["consent"].db_name]
    found: dict[str, tuple[str, Any]] = {}
    for doc in db.privacy_verifications.find({"request_id": {"$in": request_ids}}).sort("_id", 1):
        found.setdefault(doc["request_id"], (doc["outcome"], doc["checked_at"]))
    return found


def wait_until(check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not check():
        time.sleep(1)


# -- export ---------------------------------------------------------------------------------------
async def export_times(gateway: str, email: str, password: str, n: int) -> list[float]:
    async with httpx.AsyncClient(base_url=gateway, timeout=60) as client:
        logged_in = await client.post("/api/v1/session", json={"email": email, "password": password})
        assert logged_in.status_code == 200, logged_in.text
        samples = []
        for _ in range(n):
            started = time.perf_counter()
            reply = await client.get("/api/v1/me/data-export")
            samples.append((time.perf_counter() - started) * 1000)
            assert reply.status_code == 200 and reply.headers["X-Export-Complete"] == "true", reply.text[:300]
        return samples


def staff_verification(stack: Stack, request_id: str) -> tuple[float, Any]:
    with stack.backends["consent"].channel() as channel:
        stub = consent_pb2_grpc.ConsentServiceStub(channel)
        started = time.perf_counter()
        reply = stub.VerifyErasure(
            pb.VerifyErasureRequest(request_id=request_id),
            metadata=staff_metadata("acc_" + "c" * 32, PRIVACY),
            timeout=600,
        )
        return (time.perf_counter() - started) * 1000, reply.verification


def erasure_phase(
    stack: Stack, client: Client, people: list[seeding.SeededPerson], rate: float, label: str, floor: float
) -> tuple[dict[str, tuple[Any, Any]], dict[str, float], int]:
    """Open an erasure per person at ``rate``; (times, figures, missed)."""
    started = time.perf_counter()
    opened = open_erasures(stack, people, rate)
    wall = time.perf_counter() - started
    wait_until(lambda: len(completion_times(client, stack, opened)) == len(opened), 180)
    times = completion_times(client, stack, opened)
    latencies = sorted((done - received).total_seconds() * 1000 for received, done in times.values())
    missed = len(opened) - len(times)
    if not latencies:
        return times, {}, missed
    p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
    first = min(received for received, _ in times.values())
    last = max(done for _, done in times.values())
    capacity = len(times) / max(0.001, (last - first).total_seconds())
    print(
        f"  erasure accepted -> all receipts in, {label}: {len(opened)} at {len(opened) / wall:.1f}/s "
        f"for {wall:.0f} s: p50={p50:.1f} ms  p99={p99:.1f} ms  max={latencies[-1]:.1f} ms  "
        f"missed={missed}; completed {capacity:.1f}/s   floor p50={floor:.1f} ms"
    )
    for service, samples in receipt_times(client, stack, times).items():
        print(
            f"    {service:<10} receipt filed after p50={statistics.median(samples):8.1f} ms  "
            f"p99={percentile(samples, 0.99):8.1f} ms"
        )
    return times, {f"erasure p50 ms, {label}": p50, f"erasure p99 ms, {label}": p99}, missed


def measure(
    stack: Stack, client: Client, args: argparse.Namespace, size: int, password: str, hashed: str
) -> dict[str, float]:
    rows: dict[str, float] = {}
    print(f"\n{size:,} people")
    calm, count = int(args.calm_rate * args.calm_seconds), int(args.rate * args.seconds)
    # Those erased are seeded apart (numbers far above the stored ones), so ``size`` people
    # stay stored while they go.
    first = ERASED_BASE * (1 + args.sizes.index(size))
    pepper = os.environ["LETHE_SUBJECT_PEPPER"]
    seeding.seed(client, seeding.databases_of(stack), pepper, first, first + calm + count, hashed)
    trips = sorted(broker_round_trips(os.environ["LETHE_AMQP_URL"], 200))
    deletes = sorted(store_deletes(client, stack, 50))
    floor = statistics.median(trips) + statistics.median(deletes)
    report("  floor: broker round trip, confirmed", trips)
    report("  floor: store delete by _id (4 services)", deletes)
    rows["floor p50 ms"] = floor

    times: dict[str, tuple[Any, Any]] = {}
    missed = 0
    for label, people, rate in (
        ("calm", seeding.people(first, first + calm), args.calm_rate),
        ("sustained", seeding.people(first + calm, first + calm + count), args.rate),
    ):
        done, figures, lost = erasure_phase(stack, client, people, rate, label, floor)
        times.update(done)
        rows.update(figures)
        missed += lost

    started = time.perf_counter()
    wait_until(lambda: len(verification_times(client, stack, list(times))) == len(times), args.proof_wait)
    proofs = verification_times(client, stack, list(times))
    outcomes: dict[str, int] = {}
    for outcome, _ in proofs.values():
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    print(
        f"  proof of erasure (automatic, {args.proof_delay:.0f} s after completion here): {outcomes} of "
        f"{len(times)} within {time.perf_counter() - started:.0f} s of the last completion"
    )
    one, result = staff_verification(stack, next(iter(times)))
    print(
        f"  proof of erasure, one staff run: {one:.0f} ms, {result.outcome}, searched "
        f"{result.documents_searched:,} documents, {result.messages_searched} messages, "
        f"{result.log_lines_searched:,} log lines"
    )
    rows["proof run ms"] = one
    exports = sorted(asyncio.run(export_times(stack.gateway_url, seeding.person(0).email, password, 20)))
    report("  export: GET /api/v1/me/data-export", exports)
    rows["export p50 ms"] = statistics.median(exports)
    rows["failures"] = float(missed + sum(n for o, n in outcomes.items() if o != "passed"))
    return rows


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--sizes", default="1000,100000", type=lambda t: sorted(int(s) for s in t.split(",")))
    parser.add_argument("--rate", type=float, default=20.0, help="erasures opened a second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long they are opened")
    parser.add_argument("--calm-rate", type=float, default=4.0, help="first, erasures a second at rest")
    parser.add_argument("--calm-seconds", type=float, default=10.0)
    parser.add_argument("--proof-wait", type=float, default=900.0, help="seconds to wait for the proofs")
    parser.add_argument(
        "--proof-delay", type=float, default=120.0, help="the proof runs this long after completion"
    )
    args = parser.parse_args()
    password = f"bench passphrase {secrets.token_hex(8)}"
    log_dir = Path(tempfile.mkdtemp(prefix="lethe-bench-rights-"))
    # The proof waits until the erasures are measured: its full scans would share the CPU.
    stack = start_stack(
        unique("rights"),
        log_dir,
        CONSENT_REQUEST_DUE_MONTHS="1",
        CONSENT_VERIFY_DELAY_SECONDS=str(args.proof_delay),
    )
    client: Client = MongoClient(os.environ["LETHE_MONGO_URL"], tz_aware=True)
    results: list[tuple[int, dict[str, float]]] = []
    try:
        print(
            f"Issue 14: rights at scale; {len(stack.backends)} services x 2 API + 2 worker replicas; "
            f"{os.cpu_count()} cores; logs in {log_dir}"
        )
        hashed = seeding.password_hash(password)
        seeded = 0
        for size in args.sizes:
            started = time.perf_counter()
            seeding.seed(
                client, seeding.databases_of(stack), os.environ["LETHE_SUBJECT_PEPPER"], seeded, size, hashed
            )
            print(f"\nseeded {size - seeded:,} people in {time.perf_counter() - started:.0f} s")
            seeded = size
            results.append((size, measure(stack, client, args, size, password, hashed)))
    finally:
        client.close()
        stop_stack(stack)
    if len(results) > 1:
        (first, a), (last, b) = results[0], results[-1]
        print(f"\nfrom {first:,} to {last:,} people")
        for name, value in a.items():
            if name != "failures" and value and name in b:
                print(f"  {name:<22} {value:10.1f} -> {b[name]:10.1f}   x{b[name] / value:5.2f}")
    return 1 if any(rows.get("failures") for _, rows in results) else 0


if __name__ == "__main__":
    sys.exit(main())
