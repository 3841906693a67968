"""Nothing lost under faults (issue 14): 200 erasures while, in turn, every service's workers,
the broker and the store are SIGKILLed and started again.

200 people are seeded the way ``tools/seed.py`` seeds a benchmark (an account, its consent, a
newsletter subscription, a completed order: what an erasure has to touch in every service).
Their erasures are opened one by one, as a logged-in person's would be, while the faults
come; an opening the faults refuse is sent again. Afterwards every request must be complete
with one receipt per service, every proof of erasure must have passed, and no dead letter may
be left. The counts are printed (``-s`` shows them).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from kombu import Connection
from pymongo import MongoClient

from lethe.consent.v1 import consent_pb2 as pb
from lethe.consent.v1 import consent_pb2_grpc
from lethe_testing import PrivateServer, Stack, private_broker, private_store, start_stack, stop_stack, unique

sys.path.insert(0, str(Path(__file__).parents[1] / "tools"))
import seed as seeding

PEOPLE = int(os.environ.get("LETHE_FAULT_ERASURES", "200"))
SERVICES = ("identity", "consent", "shop", "newsletter", "analytics")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateServer]:
    server = private_store(tmp_path_factory.mktemp("store")).start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateServer]:
    server = private_broker(tmp_path_factory.mktemp("broker")).start(timeout=90)
    yield server
    server.kill()


def amqp_url(broker: PrivateServer) -> str:
    return f"amqp://guest:guest@127.0.0.1:{broker.port}//"


@pytest.fixture(scope="module")
def stack(
    store: PrivateServer, broker: PrivateServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    running = start_stack(
        unique("flt"),
        tmp_path_factory.mktemp("logs"),
        LETHE_MONGO_URL=f"mongodb://127.0.0.1:{store.port}/",
        LETHE_AMQP_URL=amqp_url(broker),
        CONSENT_VERIFY_INTERVAL_SECONDS="1",
        CONSENT_VERIFY_DELAY_SECONDS="1",
        CONSENT_VERIFY_RETRY_SECONDS="10",
    )
    yield running
    stop_stack(running)


def opened_until_answered(
    stub: Any, person: seeding.SeededPerson, stop_at: float
) -> pb.OpenPrivacyRequestResponse:
    """Open the person's erasure as the gateway would for their session; again while the
    faults make the service answer UNAVAILABLE or not at all."""
    request = pb.OpenPrivacyRequestRequest(
        person=pb.Person(account_id=person.account_id, email=person.email),
        kind="erasure",
        authenticated=True,
    )
    while True:
        try:
            return stub.OpenPrivacyRequest(request, timeout=5)
        except grpc.RpcError as exc:
            if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise
        assert time.monotonic() < stop_at, "the consent service never took the request"
        time.sleep(0.2)


def faults(stack: Stack, store: PrivateServer, broker: PrivateServer) -> list[tuple[str, Callable[[], None]]]:
    """Each fault: SIGKILL, a moment of absence, start again (and wait until it is up)."""

    def workers(name: str) -> Callable[[], None]:
        def crash() -> None:
            stack.backends[name].kill_workers()
            time.sleep(1.5)
            stack.backends[name].restart_workers()

        return crash

    def server(what: PrivateServer, timeout: float) -> Callable[[], None]:
        def crash() -> None:
            what.kill()
            time.sleep(1.5)
            what.start(timeout=timeout)

        return crash

    return [
        *((f"{name} workers", workers(name)) for name in SERVICES),
        ("broker", server(broker, 90)),
        ("store", server(store, 60)),
    ]


def dead_letters(url: str, stack: Stack) -> dict[str, int]:
    counts = {}
    with Connection(url) as connection:
        channel = connection.channel()
        for name, backend in stack.backends.items():
            _, count, _ = channel.queue_declare(queue=f"{backend.queue_group}.dead", passive=True)
            counts[name] = int(count)
    return counts


# Five services' workers, the broker and the store are killed in turn (about 45 s of
# openings and faults), then every proof must pass: more than the default 180 s on 2 cores.
@pytest.mark.timeout(480)
def test_200_erasures_complete_and_prove_clean_while_every_part_is_killed_in_turn(
    stack: Stack, store: PrivateServer, broker: PrivateServer
) -> None:
    client: MongoClient[dict[str, Any]] = MongoClient(f"mongodb://127.0.0.1:{store.port}/", tz_aware=True)
    dbs = seeding.databases_of(stack)
    pepper = stack.gateway.env["LETHE_SUBJECT_PEPPER"]
    people = seeding.people(0, PEOPLE)
    seeding.seed(client, dbs, pepper, 0, PEOPLE, seeding.password_hash("fault passphrase 1"))
    stub = consent_pb2_grpc.ConsentServiceStub(stack.backends["consent"].channel())

    opened: list[pb.OpenPrivacyRequestResponse] = []
    spacing = 45.0 / PEOPLE  # the openings span the whole round of faults
    stop_at = time.monotonic() + 600

    def open_all() -> None:
        for person in people:
            opened.append(opened_until_answered(stub, person, stop_at))
            time.sleep(spacing)

    opener = threading.Thread(target=open_all, name="opener")
    started = time.monotonic()
    opener.start()
    done_faults = []
    for name, crash in faults(stack, store, broker):
        time.sleep(3)
        crash()
        done_faults.append(name)
    opener.join(timeout=600)
    assert not opener.is_alive() and len(opened) == PEOPLE
    request_ids = [reply.request.id for reply in opened]
    assert len(set(request_ids)) == PEOPLE

    consent_db = client[dbs["consent"]]

    def verdicts() -> dict[str, str]:
        found = {}
        for doc in consent_db.privacy_verifications.find({}, {"request_id": 1, "outcome": 1}):
            found[doc["request_id"]] = doc["outcome"]  # runs come in time order: the last counts
        return found

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        finished = verdicts()
        if all(finished.get(r) in ("passed", "failed") for r in request_ids):
            break
        time.sleep(2)
    elapsed = time.monotonic() - started
    finished = verdicts()
    outcomes = Counter(finished.get(r, "none") for r in request_ids)

    states = [
        stub.GetPrivacyRequest(
            pb.FollowRequest(request_id=reply.request.id, token=reply.follow_token), timeout=10
        )
        for reply in opened
    ]
    statuses = Counter(s.status for s in states)
    receipts = Counter(len({(r.service, r.outcome) for r in s.receipts}) for s in states)
    # (The seeding adds a closed erasure with its receipts for every 20th person: not ours.)
    filed = consent_db.privacy_receipts.count_documents({"request_id": {"$in": request_ids}})
    sent = {
        name: sum(
            client[dbs[name]].privacy_receipts_sent.count_documents({"_id": {"$regex": f"^{r}/erasure/"}})
            for r in request_ids
        )
        for name in SERVICES
    }
    letters = dead_letters(amqp_url(broker), stack)
    failures = [
        (s.id, [(f.service, f.place, f.what) for f in s.verification.failures][:5])
        for s in states
        if s.verification.outcome != "passed"
    ][:5]
    print(
        f"\n{PEOPLE} erasures with faults ({', '.join(done_faults)}) done in {elapsed:.0f} s: "
        f"statuses {dict(statuses)}, proofs {dict(outcomes)}, receipts per request {dict(receipts)}, "
        f"receipts filed {filed}, receipts sent {sent}, dead letters {letters}"
    )
    assert statuses == {"complete": PEOPLE}, failures
    assert outcomes == {"passed": PEOPLE}, failures
    assert all(s.verification.outcome == "passed" for s in states)
    assert receipts == {len(SERVICES): PEOPLE}  # one done receipt from every service, no more
    assert filed == len(SERVICES) * PEOPLE
    assert sent == {name: PEOPLE for name in SERVICES}
    assert letters == {name: 0 for name in SERVICES}
    client.close()
