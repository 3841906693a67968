"""Consent's staff RPCs check the caller's role themselves, from the staff assertion.

Against the real consent API and worker: every staff RPC is refused (PERMISSION_DENIED,
and nothing changes) without an assertion, with one signed by another key, an expired one,
one for someone without the privacy role, or when the request names another actor than
the assertion; the privacy role and admin are let through, and what the store records as
the actor is the assertion's account, whatever the request says.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe.consent.v1 import consent_pb2 as pb
from lethe.consent.v1 import consent_pb2_grpc
from lethe_common.staff import (
    ACCOUNTING,
    ADMIN,
    MARKETING,
    METADATA_KEY,
    PRIVACY,
    SUPPORT,
    AssertionSigner,
)
from lethe_common.store.keys import under
from lethe_testing import Backend, remove_backend, start_backend, unique, wait_for
from lethe_testing.staff import Metadata, forged_metadata, staff_metadata

Stub = consent_pb2_grpc.ConsentServiceStub
STAFF = f"acc_{uuid.uuid4().hex}"
OTHER = f"acc_{uuid.uuid4().hex}"
TEXTS = [
    pb.LocalisedText(language="de", title="Titel", body="Deutscher Text"),
    pb.LocalisedText(language="en", title="Title", body="English text"),
]


@pytest.fixture(scope="module")
def consent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    backend = start_backend(
        "consent",
        unique("cst"),
        tmp_path_factory.mktemp("consent"),
        replicas=1,
        CONSENT_RECEIPT_SERVICES="consent",  # an erasure completes with consent's own receipt
        CONSENT_VERIFY_DELAY_SECONDS="3600",  # only the staff run verifies here
        LETHE_LOG_DIR="",
    )
    try:
        backend.api.wait_ready()
        backend.worker.wait_ready()
        yield backend
    finally:
        remove_backend(backend)


@pytest.fixture(scope="module")
def stub(consent: Backend) -> Iterator[Stub]:
    with consent.channel() as channel:
        yield Stub(channel)


@pytest.fixture(scope="module")
def db(consent: Backend, mongo_client: MongoClient) -> Database:
    return mongo_client[consent.db_name]


def person() -> pb.Person:
    return pb.Person(account_id=f"acc_{uuid.uuid4().hex}", email=f"{unique('p')}@customer.example")


def expired(account_id: str, *roles: str) -> Metadata:
    """An assertion identity signed, but 1000 seconds ago: long expired."""
    signer = AssertionSigner(os.environ["IDENTITY_STAFF_SIGNING_KEY"])
    signed = signer.sign(account_id, roles, time.time() - 1000, now=time.time() - 1000)
    return ((METADATA_KEY, signed),)


@pytest.fixture(scope="module")
def erasure(stub: Stub) -> str:
    """A complete erasure (consent answers it alone here): what VerifyErasure verifies."""
    opened = stub.OpenPrivacyRequest(
        pb.OpenPrivacyRequestRequest(person=person(), kind="erasure", authenticated=True), timeout=5
    )
    follow = pb.FollowRequest(request_id=opened.request.id, token=opened.follow_token)
    wait_for(lambda: stub.GetPrivacyRequest(follow, timeout=5).status == "complete", 30, what="the erasure")
    return str(opened.request.id)


@dataclass
class Target:
    """One staff RPC made ready to call: ``call(body_actor, metadata)``; ``effect()`` is what
    the call changes; ``actor()`` is who the store says made the change (None: not recorded)."""

    call: Callable[[str, Metadata | None], Any]
    effect: Callable[[], object]
    actor: Callable[[], str] | None = None


def objection(stub: Stub) -> str:
    opened = stub.OpenPrivacyRequest(
        pb.OpenPrivacyRequestRequest(
            person=person(), kind="objection", purpose="access_logs", reason="I object", authenticated=True
        ),
        timeout=5,
    )
    assert opened.request.status == "open"
    return str(opened.request.id)


def steps_of(db: Database, request_id: str) -> list[dict[str, Any]]:
    return list(db.privacy_request_steps.find({"_id": under(request_id)}, sort=[("_id", 1)]))


def publish_text(stub: Stub, db: Database, erasure: str) -> Target:
    purpose = f"survey_{unique('s')[-8:]}"
    return Target(
        lambda actor, metadata: stub.PublishText(
            pb.PublishTextRequest(actor_account_id=actor, purpose=purpose, version="v1", texts=TEXTS),
            metadata=metadata,
            timeout=5,
        ),
        lambda: db.consent_texts.count_documents({"purpose": purpose}),
        lambda: db.consent_texts.find_one({"purpose": purpose})["published_by"],
    )


def list_requests(stub: Stub, db: Database, erasure: str) -> Target:
    waiting = objection(stub)

    def call(actor: str, metadata: Metadata | None) -> None:
        listed = stub.ListPrivacyRequests(
            pb.AdminListRequest(actor_account_id=actor, kind="objection", status="open", page_size=200),
            metadata=metadata,
            timeout=5,
        )
        assert waiting in [r.id for r in listed.requests]

    return Target(call, lambda: None)


def update_request(stub: Stub, db: Database, erasure: str) -> Target:
    request_id = objection(stub)
    return Target(
        lambda actor, metadata: stub.UpdatePrivacyRequest(
            pb.UpdatePrivacyRequestRequest(
                actor_account_id=actor, request_id=request_id, status="in_progress"
            ),
            metadata=metadata,
            timeout=5,
        ),
        lambda: [s["status"] for s in steps_of(db, request_id)],
        lambda: steps_of(db, request_id)[-1]["decided_by"],
    )


def decide_objection(stub: Stub, db: Database, erasure: str) -> Target:
    request_id = objection(stub)
    return Target(
        lambda actor, metadata: stub.DecideObjection(
            pb.DecideObjectionRequest(
                actor_account_id=actor, request_id=request_id, uphold=False, reason="kept 7 days for security"
            ),
            metadata=metadata,
            timeout=5,
        ),
        lambda: [s["status"] for s in steps_of(db, request_id)],
        lambda: steps_of(db, request_id)[-1]["decided_by"],
    )


def verify_erasure(stub: Stub, db: Database, erasure: str) -> Target:
    def call(actor: str, metadata: Metadata | None) -> None:
        verified = stub.VerifyErasure(
            pb.VerifyErasureRequest(actor_account_id=actor, request_id=erasure), metadata=metadata, timeout=60
        )
        assert verified.id == erasure and verified.verification.checked_at

    return Target(call, lambda: db.privacy_verifications.count_documents({"request_id": erasure}))


def look_up_request(stub: Stub, db: Database, erasure: str) -> Target:
    def call(actor: str, metadata: Metadata | None) -> None:
        found = stub.GetStaffPrivacyRequest(
            pb.StaffRequestLookup(actor_account_id=actor, request_id=erasure), metadata=metadata, timeout=5
        )
        assert found.id == erasure and found.status == "complete"

    return Target(call, lambda: None)


RPCS: dict[str, Callable[[Stub, Database, str], Target]] = {
    "PublishText": publish_text,
    "ListPrivacyRequests": list_requests,
    "GetStaffPrivacyRequest": look_up_request,
    "UpdatePrivacyRequest": update_request,
    "DecideObjection": decide_objection,
    "VerifyErasure": verify_erasure,
}

# (metadata, the actor the request names, the reason the refusal gives)
REFUSED: dict[str, tuple[Callable[[], Metadata | None], str, str]] = {
    "no assertion": (lambda: None, STAFF, "staff_assertion_invalid"),
    "no assertion, no actor": (lambda: None, "", "staff_assertion_invalid"),
    "signed by another key": (lambda: forged_metadata(STAFF, PRIVACY), STAFF, "staff_assertion_invalid"),
    "not an assertion": (lambda: ((METADATA_KEY, "e30.AAAA"),), STAFF, "staff_assertion_invalid"),
    "expired": (lambda: expired(STAFF, PRIVACY), STAFF, "staff_assertion_invalid"),
    "support": (lambda: staff_metadata(STAFF, SUPPORT), STAFF, "staff_role_missing"),
    "accounting and marketing": (
        lambda: staff_metadata(STAFF, ACCOUNTING, MARKETING),
        STAFF,
        "staff_role_missing",
    ),
    "another actor in the request": (lambda: staff_metadata(STAFF, PRIVACY), OTHER, "staff_actor_mismatch"),
    "a support member's call naming a privacy member": (
        lambda: staff_metadata(OTHER, SUPPORT),
        STAFF,
        "staff_role_missing",
    ),
}

# (metadata, the actor the request names)
ALLOWED: dict[str, tuple[Callable[[], Metadata], str]] = {
    "privacy": (lambda: staff_metadata(STAFF, PRIVACY), STAFF),
    "privacy, no actor in the request": (lambda: staff_metadata(STAFF, PRIVACY), ""),
    "privacy among others": (lambda: staff_metadata(STAFF, SUPPORT, PRIVACY), STAFF),
    "admin": (lambda: staff_metadata(STAFF, ADMIN), ""),
}


def refusal(call: Callable[[], Any]) -> tuple[grpc.StatusCode, str]:
    """The status code and the ``reason`` trailer a call is refused with."""
    try:
        call()
    except grpc.RpcError as exc:
        reasons = [value for key, value in exc.trailing_metadata() or () if key == "reason"]
        return exc.code(), reasons[0] if reasons else ""
    raise AssertionError("the call succeeded but was expected to be refused")


@pytest.mark.parametrize("case", REFUSED)
@pytest.mark.parametrize("rpc", RPCS)
def test_a_staff_call_without_a_valid_privacy_assertion_is_refused_and_changes_nothing(
    stub: Stub, db: Database, erasure: str, rpc: str, case: str
) -> None:
    target = RPCS[rpc](stub, db, erasure)
    metadata, actor, reason = REFUSED[case]
    before = target.effect()
    assert refusal(lambda: target.call(actor, metadata())) == (grpc.StatusCode.PERMISSION_DENIED, reason)
    assert target.effect() == before


@pytest.mark.parametrize("case", ALLOWED)
@pytest.mark.parametrize("rpc", RPCS)
def test_privacy_staff_and_admins_may_and_the_actor_recorded_is_the_assertions(
    stub: Stub, db: Database, erasure: str, rpc: str, case: str
) -> None:
    target = RPCS[rpc](stub, db, erasure)
    metadata, actor = ALLOWED[case]
    before = target.effect()
    target.call(actor, metadata())
    if rpc not in ("ListPrivacyRequests", "GetStaffPrivacyRequest"):  # reads: they check what they read
        assert target.effect() != before
    if target.actor is not None:
        assert target.actor() == STAFF
