"""The traffic report of the real analytics API (two replicas, real store) is for marketing
(and admins) only, checked by the service itself from the staff assertion: no assertion,
one signed by another key, an expired one or one of someone without the role is refused
with PERMISSION_DENIED. Counting page views and forgetting a visitor need none."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import grpc
import pytest

from lethe.analytics.v1 import analytics_pb2 as pb
from lethe_analytics.domain import new_visitor_id
from lethe_common.staff import ADMIN, MARKETING, METADATA_KEY, ROLES, AssertionSigner
from lethe_testing import code_of
from lethe_testing.staff import Metadata, forged_metadata, staff_metadata

Stub = Any  # analytics_pb2_grpc.AnalyticsServiceStub, from conftest
STAFF = "acc_" + "c" * 32
TRAFFIC = pb.GetTrafficRequest(days=7, top=50)


def expired_metadata(account_id: str, *roles: str) -> Metadata:
    """An assertion identity really signed, but long ago: it has expired."""
    signer = AssertionSigner(os.environ["IDENTITY_STAFF_SIGNING_KEY"])
    signed = signer.sign(account_id, roles, password_at=time.time(), now=time.time() - 1000)
    return ((METADATA_KEY, signed),)


REFUSED: dict[str, Callable[[], Metadata]] = {
    "none": lambda: (),
    "not an assertion": lambda: ((METADATA_KEY, "staff.please"),),
    "signed by another key": lambda: forged_metadata(STAFF, MARKETING),
    "expired": lambda: expired_metadata(STAFF, MARKETING),
    **{
        f"role {role}": lambda role=role: staff_metadata(STAFF, role)
        for role in ROLES
        if role not in (MARKETING, ADMIN)
    },
}


@pytest.mark.parametrize("assertion", list(REFUSED))
def test_the_traffic_report_without_a_valid_marketing_assertion_is_refused(
    stub: Stub, assertion: str
) -> None:
    metadata = REFUSED[assertion]()
    assert (
        code_of(lambda: stub.GetTraffic(TRAFFIC, metadata=metadata, timeout=10))
        == grpc.StatusCode.PERMISSION_DENIED
    )


@pytest.mark.parametrize("role", [MARKETING, ADMIN])
def test_the_traffic_report_is_given_to_marketing_and_admins(site: Any, stub: Stub, role: str) -> None:
    path = site.new_path()
    site.view(path)
    report = stub.GetTraffic(TRAFFIC, metadata=staff_metadata(STAFF, role), timeout=10)
    assert (path, 1) in [(p.path, p.views) for p in report.top_pages]


def test_page_views_and_forgetting_a_visitor_need_no_assertion(site: Any, stub: Stub) -> None:
    visitor = new_visitor_id()
    assert site.view(site.new_path(), visitor).visit_recorded
    reply = stub.ForgetVisitor(pb.ForgetVisitorRequest(visitor_id=visitor), timeout=10)
    assert reply.deleted == 1
