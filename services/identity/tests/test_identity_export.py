"""Identity's ExportSubjectData: everything it holds about one person, and no secret."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from pymongo.database import Database

from lethe.common.v1 import subject_pb2
from lethe.identity.v1 import identity_pb2 as pb
from lethe.identity.v1 import identity_pb2_grpc
from lethe_testing import unique

PASSWORD = "lantern orchard seventeen"  # the conftest's
Stub = identity_pb2_grpc.IdentityServiceStub
Verified = Callable[[str], str]
KeyOf = Callable[[str], str]


def _export(stub: Stub, **subject: str) -> tuple[subject_pb2.ExportSubjectDataResponse, dict[str, Any]]:
    reply = stub.ExportSubjectData(
        subject_pb2.ExportSubjectDataRequest(subject=subject_pb2.Subject(**subject)), timeout=10
    )
    return reply, json.loads(reply.data_json)


def _contact(stub: Stub, email: str, message: str) -> str:
    return str(
        stub.SubmitContactRequest(
            pb.SubmitContactRequestRequest(
                name="Export Person",
                email=email,
                message=message,
                kind="contact",
                client_address="198.51.100.4",
            ),
            timeout=5,
        ).id
    )


def test_an_export_holds_the_account_sessions_and_contact_requests_and_no_secret(
    stub: Stub, verified: Verified, key_of: KeyOf, db: Database
) -> None:
    email, other = f"{unique('ex')}@example.org", f"{unique('ex')}@example.org"
    account_id, other_id = verified(email), verified(other)
    login = stub.Login(pb.LoginRequest(email=email, password=PASSWORD, remember_me=True), timeout=10)
    stub.Login(pb.LoginRequest(email=other, password=PASSWORD), timeout=10)
    contact_id = _contact(stub, email, "please call me back about my order")
    _contact(stub, other, "the other person's message")

    assert login.account.subject_key == key_of(email)
    reply, data = _export(stub, account_id=account_id, subject_key=key_of(email))

    assert reply.service == "identity"
    assert reply.purposes and reply.lawful_bases and reply.retention
    assert "90 days" not in reply.retention  # the configured retention (0 days here) is what is said
    [account] = data["accounts"]
    assert (account["id"], account["email"], account["name"]) == (account_id, email, "Test Person")
    assert account["status"] == "active" and account["account_consent_version"] == "2026-01"
    assert account["portal_access"]["status"] == "none"
    [session] = account["sessions"]
    assert session["remember_me"] is True and session["started_at"] and session["ends_at"]
    assert [c["id"] for c in data["contact_requests"]] == [contact_id]
    assert data["contact_requests"][0]["message"] == "please call me back about my order"

    text = reply.data_json
    secrets = [login.session_token, *(str(d["_id"]) for d in db["sessions"].find({"account_id": account_id}))]
    secrets += [str(d["_id"]) for d in db["verification_tokens"].find({"account_id": account_id})]
    secrets += [str(d["password_hash"]) for d in db["credentials"].find({}) if d.get("password_hash")]
    assert not any(secret and secret in text for secret in secrets)
    assert "argon2" not in text and "password_hash" not in text
    assert other not in text and other_id not in text and "the other person's message" not in text


def test_an_export_by_subject_key_alone_finds_the_account_and_a_guest_only_their_requests(
    stub: Stub, verified: Verified, key_of: KeyOf
) -> None:
    email, guest = f"{unique('ex')}@example.org", f"{unique('ex')}@example.org"
    account_id = verified(email)
    _, data = _export(stub, subject_key=key_of(email))
    assert [a["id"] for a in data["accounts"]] == [account_id]

    _contact(stub, guest, "a guest's question")
    _, data = _export(stub, subject_key=key_of(guest))
    assert data["accounts"] == []
    assert [c["email"] for c in data["contact_requests"]] == [guest]


def test_an_export_of_nobody_is_empty_and_a_malformed_subject_is_refused(stub: Stub, key_of: KeyOf) -> None:
    _, data = _export(stub, subject_key=key_of(f"{unique('nobody')}@example.org"))
    assert data["accounts"] == [] and data["contact_requests"] == []
    with pytest.raises(grpc.RpcError) as error:
        _export(stub, account_id="not an id")
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
