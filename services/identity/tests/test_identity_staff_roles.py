"""Staff roles in identity: the signed assertion, granting and revoking with step-up and a
reason, the audit trail, and calls forged past the gateway."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from lethe.common.v1 import audit_pb2, subject_pb2
from lethe.identity.v1 import identity_pb2 as pb
from lethe.identity.v1 import identity_pb2_grpc
from lethe_common.staff import METADATA_KEY, AssertionVerifier
from lethe_testing import Backend, unique
from lethe_testing.rpc import code_of
from lethe_testing.staff import forged_metadata, staff_metadata

PASSWORD = "lantern orchard seventeen"  # the conftest's
Stub = identity_pb2_grpc.IdentityServiceStub
Verified = Callable[[str], str]
Metadata = tuple[tuple[str, str], ...]


def _login(stub: Stub, email: str) -> tuple[str, pb.Account]:
    reply = stub.Login(
        pb.LoginRequest(email=email, password=PASSWORD, client_address="192.0.2.9"), timeout=10
    )
    return reply.session_token, stub.Authenticate(
        pb.AuthenticateRequest(session_token=reply.session_token), timeout=5
    )


def _as(account: pb.Account) -> Metadata:
    return ((METADATA_KEY, account.staff_assertion),)


def _change(stub: Stub, metadata: Metadata, email: str, role: str, grant: bool = True) -> pb.StaffMember:
    return stub.ChangeStaffRole(
        pb.ChangeStaffRoleRequest(email=email, role=role, grant=grant, reason="new in the support team"),
        metadata=metadata,
        timeout=10,
    )


def _reason(call: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    try:
        call()
    except grpc.RpcError as exc:
        reason = dict(exc.trailing_metadata() or ()).get("reason", "")  # type: ignore[attr-defined]
        return exc.code(), str(reason)
    raise AssertionError("the call succeeded but was expected to fail")


@pytest.fixture(scope="module")
def admin_email(identity: Backend, admin: str) -> str:
    return f"admin-{identity.api.env['LETHE_QUEUE_PREFIX'][:-1]}@staff.example"


def test_authenticate_hands_staff_an_assertion_every_service_can_check(
    stub: Stub, identity: Backend, admin: str, admin_email: str, verified: Verified
) -> None:
    _, account = _login(stub, admin_email)
    actor = AssertionVerifier(identity.api.env["LETHE_STAFF_VERIFY_KEY"]).require(
        account.staff_assertion, "admin"
    )
    assert (actor.account_id, actor.roles) == (admin, ("admin",))
    assert time.time() - actor.password_at < 60  # entered at this log-in
    customer = f"{unique('cust')}@customer.example"
    verified(customer)
    assert _login(stub, customer)[1].staff_assertion == ""


def test_a_role_granted_with_step_up_works_at_once_and_is_audited(
    stub: Stub, admin: str, admin_email: str, verified: Verified
) -> None:
    email = f"{unique('sup')}@staff.example"
    person = verified(email)
    token, current = _login(stub, admin_email)
    stale = staff_metadata(admin, "admin", password_at=time.time() - 11 * 60)
    assert _reason(lambda: _change(stub, stale, email, "support")) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "reauthentication_required",
    )
    assert (
        code_of(
            lambda: stub.ConfirmPassword(
                pb.ConfirmPasswordRequest(session_token=token, password="wrong one"), timeout=10
            )
        )
        == grpc.StatusCode.PERMISSION_DENIED
    )
    confirmed = stub.ConfirmPassword(
        pb.ConfirmPasswordRequest(session_token=token, password=PASSWORD), timeout=10
    )
    member = _change(stub, _as(confirmed), email, "support")
    assert (member.account_id, list(member.roles)) == (person, ["support"])
    assert list(_login(stub, email)[1].roles) == ["support"]
    staff = stub.ListStaff(pb.AdminListRequest(), metadata=_as(current), timeout=10).members
    assert {m.email: list(m.roles) for m in staff}[email] == ["support"]
    assert [m.admin_from_environment for m in staff if m.email == admin_email] == [True]
    entries = stub.ListAuditEntries(
        audit_pb2.AuditListRequest(page_size=200), metadata=_as(current), timeout=10
    ).entries
    granted = [e for e in entries if e.target == person]
    assert [(e.action, e.detail, e.reason, e.actor_account_id) for e in granted] == [
        ("staff_role.granted", "support", "new in the support team", admin)
    ]


def test_a_revoked_role_is_refused_at_once_even_with_an_assertion_still_valid(
    stub: Stub, admin: str, admin_email: str, verified: Verified
) -> None:
    email = f"{unique('rev')}@staff.example"
    person = verified(email)
    admin_call = staff_metadata(admin, "admin")
    _change(stub, admin_call, email, "support")
    _, before = _login(stub, email)
    listing = pb.AdminListRequest(actor_account_id=person)
    assert stub.ListContactRequests(listing, metadata=_as(before), timeout=10) is not None
    _change(stub, admin_call, email, "support", grant=False)
    assert code_of(lambda: stub.ListContactRequests(listing, metadata=_as(before), timeout=10)) == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    _, after = _login(stub, email)
    assert (list(after.roles), after.staff_assertion) == ([], "")
    actions = [
        e.action
        for e in stub.ListAuditEntries(
            audit_pb2.AuditListRequest(page_size=200), metadata=admin_call, timeout=10
        ).entries
        if e.target == person
    ]
    assert actions == ["staff_role.revoked", "staff_role.granted"]


@pytest.mark.parametrize(
    "metadata",
    [
        lambda admin: (),
        lambda admin: forged_metadata(admin, "admin"),
        lambda admin: staff_metadata(admin, "support", "privacy", "accounting", "marketing"),
        lambda admin: staff_metadata("acc_" + uuid.uuid4().hex, "admin"),
    ],
    ids=["no assertion", "another key", "every role but admin", "an admin nobody is"],
)
def test_admin_rpcs_refuse_calls_forged_past_the_gateway(
    stub: Stub, admin: str, metadata: Callable[[str], Metadata]
) -> None:
    sent = metadata(admin)
    calls = [
        lambda: stub.ListStaff(pb.AdminListRequest(), metadata=sent, timeout=10),
        lambda: _change(stub, sent, "anyone@staff.example", "admin"),
        lambda: stub.ListAuditEntries(audit_pb2.AuditListRequest(), metadata=sent, timeout=10),
    ]
    assert [code_of(call) for call in calls] == [grpc.StatusCode.PERMISSION_DENIED] * 3


def test_the_body_cannot_name_another_actor_than_the_assertion(
    stub: Stub, admin: str, verified: Verified
) -> None:
    other = verified(f"{unique('oth')}@customer.example")
    assert _reason(
        lambda: stub.ListOrganisations(
            pb.AdminListRequest(actor_account_id=other), metadata=staff_metadata(admin, "admin"), timeout=10
        )
    ) == (grpc.StatusCode.PERMISSION_DENIED, "staff_actor_mismatch")


def test_the_first_admin_and_ones_own_admin_role_are_not_revoked_here(
    stub: Stub, admin: str, admin_email: str, second_admin: str, verified: Verified
) -> None:
    call = staff_metadata(admin, "admin")
    assert code_of(lambda: _change(stub, call, admin_email, "admin", grant=False)) == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    email = f"{unique('adm')}@staff.example"
    granted = verified(email)
    _change(stub, call, email, "admin")
    assert code_of(lambda: _change(stub, staff_metadata(granted, "admin"), email, "admin", grant=False)) == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    assert (
        code_of(lambda: _change(stub, call, "nobody-here@staff.example", "support"))
        == grpc.StatusCode.NOT_FOUND
    )
    assert code_of(lambda: _change(stub, call, email, "owner")) == grpc.StatusCode.INVALID_ARGUMENT


def test_two_admins_granting_at_once_lose_neither_role(stub: Stub, admin: str, verified: Verified) -> None:
    email = f"{unique('two')}@staff.example"
    verified(email)
    roles = ["support", "privacy", "accounting", "marketing"]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda role: _change(stub, staff_metadata(admin, "admin"), email, role), roles))
    assert sorted(_login(stub, email)[1].roles) == sorted(roles)


def test_the_person_sees_staff_actions_in_the_export_and_erasure_keeps_only_the_subject_key(
    stub: Stub, admin: str, verified: Verified, key_of: Callable[[str], str]
) -> None:
    email = f"{unique('exp')}@staff.example"
    person = verified(email)
    _change(stub, staff_metadata(admin, "admin"), email, "marketing")
    subject = subject_pb2.Subject(account_id=person, subject_key=key_of(email))
    exported = json.loads(
        stub.ExportSubjectData(subject_pb2.ExportSubjectDataRequest(subject=subject), timeout=10).data_json
    )
    assert [(a["action"], a["detail"]) for a in exported["staff_actions"]] == [
        ("staff_role.granted", "marketing")
    ]
    receipt = stub.EraseSubject(
        subject_pb2.EraseSubjectRequest(subject=subject, request_id=f"pr_{uuid.uuid4().hex}"), timeout=10
    )
    assert "staff_audit" in [r.collection for r in receipt.retained]
    entries = stub.ListAuditEntries(
        audit_pb2.AuditListRequest(page_size=200), metadata=staff_metadata(admin, "admin"), timeout=10
    )
    mine = [e for e in entries.entries if e.subject_key == key_of(email)]
    assert [(e.action, e.target, e.reason, e.detail) for e in mine] == [("staff_role.granted", "", "", "")]
    assert email not in [
        m.email
        for m in stub.ListStaff(
            pb.AdminListRequest(), metadata=staff_metadata(admin, "admin"), timeout=10
        ).members
    ]
