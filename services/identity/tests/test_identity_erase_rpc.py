"""Identity's EraseSubject: the erasure the bus delivers, asked for directly over gRPC."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import grpc
import pytest
from pymongo.database import Database

from lethe.common.v1 import subject_pb2
from lethe.identity.v1 import identity_pb2 as pb
from lethe.identity.v1 import identity_pb2_grpc
from lethe_testing import unique

PASSWORD = "lantern orchard seventeen"  # the conftest's
Stub = identity_pb2_grpc.IdentityServiceStub


def test_erase_subject_deletes_the_account_and_answers_its_receipt_once(
    stub: Stub, verified: Callable[[str], str], key_of: Callable[[str], str], db: Database
) -> None:
    email, other = f"{unique('er')}@example.org", f"{unique('er')}@example.org"
    account_id, other_id = verified(email), verified(other)
    subject = subject_pb2.Subject(account_id=account_id, subject_key=key_of(email))
    request = subject_pb2.EraseSubjectRequest(subject=subject, request_id=f"pr_{uuid.uuid4().hex}")

    first = stub.EraseSubject(request, timeout=10)
    second = stub.EraseSubject(request, timeout=10)

    assert first.service == second.service == "identity"
    assert first.request_id == request.request_id
    assert any("account" in item for item in first.deleted)
    assert any("request id and the time" in reason for reason in first.kept_reasons)
    assert [(r.collection, r.until[:2]) for r in first.retained] == [("expiries", "20")]
    with pytest.raises(grpc.RpcError) as login:
        stub.Login(pb.LoginRequest(email=email, password=PASSWORD), timeout=10)
    assert login.value.code() == grpc.StatusCode.UNAUTHENTICATED
    exported = stub.ExportSubjectData(subject_pb2.ExportSubjectDataRequest(subject=subject), timeout=10)
    assert json.loads(exported.data_json)["accounts"] == []
    assert db.privacy_receipts_sent.count_documents({"_id": {"$regex": f"^{request.request_id}/"}}) == 1
    # the other person is untouched
    assert stub.Login(pb.LoginRequest(email=other, password=PASSWORD), timeout=10).account.id == other_id


def test_erase_subject_refuses_a_malformed_request_id(stub: Stub, verified: Callable[[str], str]) -> None:
    account_id = verified(f"{unique('er')}@example.org")
    request = subject_pb2.EraseSubjectRequest(
        subject=subject_pb2.Subject(account_id=account_id), request_id="not-a-request"
    )
    with pytest.raises(grpc.RpcError) as refused:
        stub.EraseSubject(request, timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "request_id" in (refused.value.details() or "")
