"""The newsletter's campaign RPCs check the caller's role themselves, from the staff assertion.

Against the real newsletter API: every campaign RPC is refused (PERMISSION_DENIED, and
nothing changes) without an assertion, with one signed by another key, an expired one,
one for someone without the marketing role, or when the request names another actor than
the assertion; the marketing role and admin are let through, and the actor the store
records is the assertion's account. Sending, which cannot be undone, also needs the
password entered within the last ten minutes.
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

from lethe.newsletter.v1 import newsletter_pb2 as pb
from lethe.newsletter.v1 import newsletter_pb2_grpc
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
from lethe_testing import Backend, remove_backend, start_backend, unique
from lethe_testing.staff import Metadata, forged_metadata, staff_metadata

Stub = newsletter_pb2_grpc.NewsletterServiceStub
STAFF = f"acc_{uuid.uuid4().hex}"
OTHER = f"acc_{uuid.uuid4().hex}"
CREATOR = f"acc_{uuid.uuid4().hex}"  # who wrote the drafts the other RPCs act on
MINUTE = 60.0


@pytest.fixture(scope="module")
def newsletter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    # No worker: nothing here needs a campaign to go out, only to be started.
    backend = start_backend(
        "newsletter", unique("nst"), tmp_path_factory.mktemp("newsletter"), replicas=1, start_worker=False
    )
    try:
        backend.api.wait_ready()
        yield backend
    finally:
        remove_backend(backend)


@pytest.fixture(scope="module")
def stub(newsletter: Backend) -> Iterator[Stub]:
    with newsletter.channel() as channel:
        yield Stub(channel)


@pytest.fixture(scope="module")
def db(newsletter: Backend, mongo_client: MongoClient) -> Database:
    return mongo_client[newsletter.db_name]


def expired(account_id: str, *roles: str) -> Metadata:
    """An assertion identity signed, but 1000 seconds ago: long expired."""
    signer = AssertionSigner(os.environ["IDENTITY_STAFF_SIGNING_KEY"])
    signed = signer.sign(account_id, roles, time.time() - 1000, now=time.time() - 1000)
    return ((METADATA_KEY, signed),)


@dataclass
class Target:
    """One campaign RPC made ready to call: ``call(body_actor, metadata)``; ``effect()`` is
    what the call changes; ``actor()`` is who the store says made the change."""

    call: Callable[[str, Metadata | None], Any]
    effect: Callable[[], object]
    actor: Callable[[], str] | None = None


def draft(stub: Stub) -> str:
    created = stub.CreateCampaign(
        pb.CreateCampaignRequest(subject=unique("Draft"), text_body="Hello."),
        metadata=staff_metadata(CREATOR, MARKETING),
        timeout=10,
    )
    assert created.status == "draft"
    return str(created.id)


def steps_of(db: Database, campaign_id: str) -> list[dict[str, Any]]:
    return list(db.campaign_steps.find({"_id": under(campaign_id)}, sort=[("_id", 1)]))


def create_campaign(stub: Stub, db: Database) -> Target:
    subject = unique("News")

    def call(actor: str, metadata: Metadata | None) -> None:
        created = stub.CreateCampaign(
            pb.CreateCampaignRequest(actor_account_id=actor, subject=subject, text_body="Hello."),
            metadata=metadata,
            timeout=10,
        )
        assert created.subject == subject and created.status == "draft"

    return Target(
        call,
        lambda: db.campaign_steps.count_documents({"subject": subject}),
        lambda: db.campaign_steps.find_one({"subject": subject})["created_by"],
    )


def list_campaigns(stub: Stub, db: Database) -> Target:
    campaign_id = draft(stub)

    def call(actor: str, metadata: Metadata | None) -> None:
        listed = stub.ListCampaigns(
            pb.ListCampaignsRequest(actor_account_id=actor, page_size=200), metadata=metadata, timeout=10
        )
        assert campaign_id in [c.id for c in listed.campaigns]

    return Target(call, lambda: None)


def get_campaign(stub: Stub, db: Database) -> Target:
    campaign_id = draft(stub)

    def call(actor: str, metadata: Metadata | None) -> None:
        got = stub.GetCampaign(
            pb.CampaignRef(actor_account_id=actor, campaign_id=campaign_id), metadata=metadata, timeout=10
        )
        assert got.id == campaign_id

    return Target(call, lambda: None)


def moving(rpc: str, status: str) -> Callable[[Stub, Database], Target]:
    """SendCampaign or CancelCampaign of a fresh draft, which ends in ``status``."""

    def make(stub: Stub, db: Database) -> Target:
        campaign_id = draft(stub)

        def call(actor: str, metadata: Metadata | None) -> None:
            moved = getattr(stub, rpc)(
                pb.CampaignRef(actor_account_id=actor, campaign_id=campaign_id), metadata=metadata, timeout=10
            )
            assert moved.status == status

        def effect() -> tuple[str, list[str]]:
            current = stub.GetCampaign(
                pb.CampaignRef(campaign_id=campaign_id),
                metadata=staff_metadata(CREATOR, MARKETING),
                timeout=10,
            )
            return current.status, [s["kind"] for s in steps_of(db, campaign_id)]

        return Target(call, effect, lambda: steps_of(db, campaign_id)[-1]["by"])

    return make


RPCS: dict[str, Callable[[Stub, Database], Target]] = {
    "CreateCampaign": create_campaign,
    "ListCampaigns": list_campaigns,
    "GetCampaign": get_campaign,
    "SendCampaign": moving("SendCampaign", "sending"),
    "CancelCampaign": moving("CancelCampaign", "cancelled"),
}

# (metadata, the actor the request names, the reason the refusal gives)
REFUSED: dict[str, tuple[Callable[[], Metadata | None], str, str]] = {
    "no assertion": (lambda: None, STAFF, "staff_assertion_invalid"),
    "no assertion, no actor": (lambda: None, "", "staff_assertion_invalid"),
    "signed by another key": (lambda: forged_metadata(STAFF, MARKETING), STAFF, "staff_assertion_invalid"),
    "not an assertion": (lambda: ((METADATA_KEY, "e30.AAAA"),), STAFF, "staff_assertion_invalid"),
    "expired": (lambda: expired(STAFF, MARKETING), STAFF, "staff_assertion_invalid"),
    "support": (lambda: staff_metadata(STAFF, SUPPORT), STAFF, "staff_role_missing"),
    "accounting and privacy": (
        lambda: staff_metadata(STAFF, ACCOUNTING, PRIVACY),
        STAFF,
        "staff_role_missing",
    ),
    "another actor in the request": (lambda: staff_metadata(STAFF, MARKETING), OTHER, "staff_actor_mismatch"),
    "a support member's call naming a marketing member": (
        lambda: staff_metadata(OTHER, SUPPORT),
        STAFF,
        "staff_role_missing",
    ),
}

# (metadata, the actor the request names)
ALLOWED: dict[str, tuple[Callable[[], Metadata], str]] = {
    "marketing": (lambda: staff_metadata(STAFF, MARKETING), STAFF),
    "marketing, no actor in the request": (lambda: staff_metadata(STAFF, MARKETING), ""),
    "marketing among others": (lambda: staff_metadata(STAFF, SUPPORT, MARKETING), STAFF),
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
def test_a_campaign_call_without_a_valid_marketing_assertion_is_refused_and_changes_nothing(
    stub: Stub, db: Database, rpc: str, case: str
) -> None:
    target = RPCS[rpc](stub, db)
    metadata, actor, reason = REFUSED[case]
    before = target.effect()
    assert refusal(lambda: target.call(actor, metadata())) == (grpc.StatusCode.PERMISSION_DENIED, reason)
    assert target.effect() == before


@pytest.mark.parametrize("case", ALLOWED)
@pytest.mark.parametrize("rpc", RPCS)
def test_marketing_staff_and_admins_may_and_the_actor_recorded_is_the_assertions(
    stub: Stub, db: Database, rpc: str, case: str
) -> None:
    target = RPCS[rpc](stub, db)
    metadata, actor = ALLOWED[case]
    before = target.effect()
    target.call(actor, metadata())
    if rpc not in ("ListCampaigns", "GetCampaign"):  # which check what they read themselves
        assert target.effect() != before
    if target.actor is not None:
        assert target.actor() == STAFF


@pytest.mark.parametrize("role", [MARKETING, ADMIN])
def test_sending_needs_the_password_entered_within_ten_minutes(stub: Stub, db: Database, role: str) -> None:
    target = RPCS["SendCampaign"](stub, db)
    before = target.effect()
    assert before == ("draft", ["created"])
    stale = staff_metadata(STAFF, role, password_at=time.time() - 11 * MINUTE)
    assert refusal(lambda: target.call(STAFF, stale)) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "reauthentication_required",
    )
    assert target.effect() == before  # still a draft: nothing was sent
    target.call(STAFF, staff_metadata(STAFF, role, password_at=time.time() - 9 * MINUTE))
    assert target.effect() == ("sending", ["created", "sending"])
    assert target.actor is not None and target.actor() == STAFF


@pytest.mark.parametrize("rpc", [name for name in RPCS if name != "SendCampaign"])
def test_only_sending_needs_a_recent_password(stub: Stub, db: Database, rpc: str) -> None:
    target = RPCS[rpc](stub, db)
    target.call(STAFF, staff_metadata(STAFF, MARKETING, password_at=time.time() - 60 * MINUTE))
    if target.actor is not None:
        assert target.actor() == STAFF
