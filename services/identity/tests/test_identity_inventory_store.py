"""The identity inventory against the real store: after an organisation, registration,
verification, log-ins (one failed), a profile change, a portal request, contact requests (one
closed by staff), an erasure and a restriction, every collection the service's database holds
is declared, and so is every personal field found in it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

from pymongo.database import Database

from lethe.identity.v1 import identity_pb2 as pb
from lethe.identity.v1 import identity_pb2_grpc
from lethe_common.events.envelope import Envelope
from lethe_common.events.publisher import EventPublisher
from lethe_common.store.keys import under
from lethe_identity.inventory import INVENTORY
from lethe_testing import code_of, unique, wait_for
from lethe_testing.inventory import describe, store_problems
from lethe_testing.staff import staff_metadata

PASSWORD = "lantern orchard seventeen"  # the one conftest's `verified` registers with
Stub = identity_pb2_grpc.IdentityServiceStub
Verified = Callable[[str], str]


def test_every_collection_and_personal_field_identity_writes_is_in_its_inventory(
    stub: Stub,
    db: Database,
    amqp_url: str,
    verified: Verified,
    key_of: Callable[[str], str],
    privacy_event: Callable[..., Envelope],
    admin: str,
) -> None:
    domain = f"inv{uuid.uuid4().hex[:12]}.example"
    email, kept = f"ada@{domain}", f"{unique('inv-kept')}@customer.example"
    stub.CreateOrganisation(
        pb.CreateOrganisationRequest(actor_account_id=admin, name="Analytical Engines", domains=[domain]),
        metadata=staff_metadata(admin),
        timeout=10,
    )
    account_id, kept_id = verified(email), verified(kept)
    wrong = pb.LoginRequest(email=email, password="not the password", client_address="192.0.2.1")
    code_of(lambda: stub.Login(wrong, timeout=10))  # a failed log-in: an attempt is kept
    stub.Login(pb.LoginRequest(email=email, password=PASSWORD, client_address="192.0.2.1"), timeout=10)
    stub.Login(pb.LoginRequest(email=kept, password=PASSWORD, remember_me=True), timeout=10)
    stub.UpdateProfile(
        pb.UpdateProfileRequest(account_id=account_id, name="Renamed", phone="+49 30 5550100"), timeout=10
    )
    stub.RequestPortalAccess(pb.AccountRef(account_id=account_id), timeout=10)  # pending: staff decide
    contacts = [
        stub.SubmitContactRequest(
            pb.SubmitContactRequestRequest(
                name="Test Person",
                email=address,
                phone="+49 30 5550199",
                message="call me",
                kind="callback",
                client_address="192.0.2.1",
            ),
            timeout=10,
        ).id
        for address in (email, kept)
    ]
    stub.CloseContactRequest(
        pb.CloseContactRequestRequest(actor_account_id=admin, contact_request_id=contacts[1]),
        metadata=staff_metadata(admin),
        timeout=10,
    )
    erasure, restriction = f"pr_{uuid.uuid4().hex}", f"pr_{uuid.uuid4().hex}"
    publisher = EventPublisher(amqp_url)
    try:
        publisher.publish(privacy_event("privacy.erasure_requested", account_id, key_of(email), erasure))
        publisher.publish(
            privacy_event("privacy.restriction_changed", kept_id, key_of(kept), restriction, restricted=True)
        )
    finally:
        publisher.close()
    wait_for(
        lambda: all(db.privacy_receipts_sent.find_one({"_id": under(r)}) for r in (erasure, restriction)),
        15,
        what="both receipts",
    )

    problems = store_problems(db, INVENTORY)
    assert not problems, "\n".join(problems) + "\n" + json.dumps(describe(db), indent=1)
