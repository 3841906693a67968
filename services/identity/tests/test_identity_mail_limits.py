"""Mails anyone can cause, over gRPC against the real store, broker and SMTP sink (issue 18):
two API and two worker replicas of identity, calls round-robin.

This module's backend allows three account mails per address and five per client address,
so the limits are reached in a few calls. Mails go out after the answer: a test waits for
the mail, or for the API replicas' ``lethe_identity_account_mails_refused_total`` before it
says a mail did not come.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import grpc
import pytest

from lethe.identity.v1 import identity_pb2 as pb
from lethe.identity.v1 import identity_pb2_grpc
from lethe_testing import (
    Backend,
    code_of,
    mail_text,
    mails_to,
    metric_total,
    remove_backend,
    start_backend,
    token_in,
    unique,
    wait_for,
    wait_for_mail,
)

PASSWORD = "lantern orchard seventeen"  # what conftest's ``verified`` registers with
MAILS_PER_ADDRESS = 3
MAILS_PER_CLIENT = 5
NAME = "Zebulon Quirk"
Stub = identity_pb2_grpc.IdentityServiceStub
Verified = Callable[[str], str]


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """This module's own backend (conftest's ``stub`` and ``verified`` use it)."""
    backend = start_backend(
        "identity",
        unique("mlim"),
        tmp_path_factory.mktemp("identity"),
        IDENTITY_ACCOUNT_MAILS_PER_ADDRESS=str(MAILS_PER_ADDRESS),
        IDENTITY_ACCOUNT_MAILS_PER_CLIENT=str(MAILS_PER_CLIENT),
    )
    try:
        for process in (*backend.apis, *backend.workers):
            process.wait_ready()
        yield backend
    finally:
        remove_backend(backend)


def address() -> str:
    return f"{unique('ml')}@customer.example"


def refused(identity: Backend, limit: str) -> float:
    return metric_total(identity, "lethe_identity_account_mails_refused_total", limit=limit)


def one_more_refused(identity: Backend, limit: str, before: float) -> None:
    """Wait until one more mail was refused over ``limit`` than ``before``; then the job that
    refused it is past the point where it would have mailed."""
    wait_for(lambda: refused(identity, limit) >= before + 1, 15, what=f"a mail refused ({limit})")
    assert refused(identity, limit) == before + 1


def register(stub: Stub, email: str, client: str = "", name: str = NAME) -> str:
    request = pb.RegisterRequest(
        email=email, password=PASSWORD, name=name, account_consent_version="2026-01", client_address=client
    )
    return str(stub.Register(request, timeout=10).account_id)


def resend(stub: Stub, email: str, client: str = "") -> pb.Empty:
    return stub.ResendVerification(
        pb.ResendVerificationRequest(email=email, client_address=client), timeout=10
    )


def test_a_mail_over_the_limit_per_address_is_not_sent_and_answered_alike(
    stub: Stub, identity: Backend
) -> None:
    email = address()
    register(stub, email, client="192.0.2.1")
    wait_for_mail(email, "verification")
    answers = []
    for sent in range(2, MAILS_PER_ADDRESS + 1):  # each waits for its mail: the newest link is the last
        answers.append(resend(stub, email, client=f"192.0.2.{sent}"))
        wait_for_mail(email, "verification", count=sent)
    refused_before = refused(identity, "address")
    answers.append(resend(stub, email, client="192.0.2.99"))  # a fresh client: the address's limit
    one_more_refused(identity, "address", refused_before)
    assert len(mails_to(email, kind="verification")) == MAILS_PER_ADDRESS
    assert all(answer == answers[0] for answer in answers)
    # The refused resend issued no link: the last mailed one still works.
    last = token_in(wait_for_mail(email, "verification", count=MAILS_PER_ADDRESS))
    verified = stub.VerifyEmail(pb.VerifyEmailRequest(token=last, password=PASSWORD), timeout=10)
    assert verified.email_verified
    # Logged without the address.
    logs = "".join(api.log() for api in identity.apis)
    assert "account mail not sent: over the limit" in logs
    assert email not in logs


def test_mails_caused_by_one_client_are_limited_and_others_are_not(stub: Stub, identity: Backend) -> None:
    client = "198.51.100.23"
    for _ in range(MAILS_PER_CLIENT):
        email = address()
        register(stub, email, client=client)
        wait_for_mail(email, "verification")
    refused_before = refused(identity, "client")
    over, other = address(), address()
    account_id = register(stub, over, client=client)
    assert re.fullmatch(r"acc_[0-9a-f]+", account_id)  # answered like any registration
    one_more_refused(identity, "client", refused_before)
    assert mails_to(over, kind="verification") == []
    register(stub, other, client="198.51.100.24")
    wait_for_mail(other, "verification")


def test_registering_a_taken_address_answers_alike_and_tells_the_holder(
    stub: Stub, identity: Backend, verified: Verified
) -> None:
    email = address()
    holder = verified(email)  # one verification mail
    fresh = register(stub, address())
    again = register(stub, email.upper(), name="Mallory Squatter")
    assert again != holder and len(again) == len(fresh) and again.startswith("acc_")
    assert code_of(lambda: stub.GetProfile(pb.AccountRef(account_id=again), timeout=5)) == (
        grpc.StatusCode.NOT_FOUND
    )
    notice = mail_text(wait_for_mail(email, "address-in-use"))
    assert "register" in notice and "Mallory" not in notice and "token=" not in notice
    # The notices count against the address's limit too: one more, then nothing.
    register(stub, email)
    wait_for_mail(email, "address-in-use", count=2)
    refused_before = refused(identity, "address")
    register(stub, email)
    one_more_refused(identity, "address", refused_before)
    assert len(mails_to(email, kind="address-in-use")) == 2
    assert len(mails_to(email, kind="verification")) == 1
    assert stub.GetProfile(pb.AccountRef(account_id=holder), timeout=5).email == email


def test_changing_to_a_taken_address_answers_alike_but_no_link_goes_there(
    stub: Stub, identity: Backend, verified: Verified
) -> None:
    mover, other, taken, free = address(), address(), address(), address()
    mover_id, other_id = verified(mover), verified(other)
    holder_id = verified(taken)
    to_taken = stub.UpdateProfile(pb.UpdateProfileRequest(account_id=mover_id, email=taken), timeout=10)
    to_free = stub.UpdateProfile(pb.UpdateProfileRequest(account_id=other_id, email=free), timeout=10)
    assert (to_taken.email, to_taken.pending_email) == (mover, taken)
    assert (to_free.email, to_free.pending_email) == (other, free)
    notice = mail_text(wait_for_mail(taken, "address-in-use"))
    assert "another account" in notice and "token=" not in notice
    wait_for_mail(free, "verification")
    assert len(mails_to(taken, kind="verification")) == 1  # its holder's own, nothing more
    assert mails_to(mover, kind="address-in-use") == []
    profile = stub.GetProfile(pb.AccountRef(account_id=mover_id), timeout=5)
    assert (profile.email, profile.pending_email) == (mover, taken)
    assert stub.GetProfile(pb.AccountRef(account_id=holder_id), timeout=5).email == taken


def test_mails_to_unverified_addresses_name_no_one(stub: Stub, verified: Verified) -> None:
    email = address()
    register(stub, email, name=NAME)
    activation = mail_text(wait_for_mail(email, "verification"))
    assert "Zebulon" not in activation and "Quirk" not in activation
    assert activation.startswith("Hallo,") and "Hello," in activation
    mover, new = address(), address()
    account_id = verified(mover)
    stub.UpdateProfile(pb.UpdateProfileRequest(account_id=account_id, name=NAME, email=new), timeout=10)
    change = mail_text(wait_for_mail(new, "verification"))
    assert "Zebulon" not in change and "Quirk" not in change and "neue E-Mail-Adresse" in change
