"""The analytics service over gRPC on real ports, against the real store: what a page view
leaves behind with and without consent, the checks at the edge, forgetting a visitor, the
traffic report, the export and the inventory."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import grpc
import pytest
from pymongo.database import Database

from lethe.analytics.v1 import analytics_pb2 as pb
from lethe.common.v1 import subject_pb2
from lethe_analytics.domain import new_visitor_id
from lethe_common.staff import MARKETING
from lethe_common.store.keys import under
from lethe_testing import code_of
from lethe_testing.staff import staff_metadata

Stub = Any  # analytics_pb2_grpc.AnalyticsServiceStub, from conftest
NOT_IN_THE_MESSAGE = "secretvalue"
MARKETER = "acc_" + "7" * 32


def test_a_page_view_without_consent_is_a_count_that_names_no_one(site: Any, db: Database) -> None:
    path = site.new_path()
    for _ in range(3):
        reply = site.view(path)
        assert reply.visit_recorded is False
    docs = list(db.page_counts.find({"path": path}))
    assert docs and sum(d["count"] for d in docs) == 3
    assert all(set(d) == {"_id", "day", "path", "count"} for d in docs)
    assert db.visits.count_documents({"path": path}) == 0


def test_a_consented_page_view_is_kept_under_a_keyed_hash_and_the_id_is_nowhere(
    site: Any, db: Database, hashed: Any
) -> None:
    path, visitor, person = site.new_path(), new_visitor_id(), site.new_subject_key()
    assert site.view(path, visitor).visit_recorded is True
    assert site.view(path, visitor, person).visit_recorded is True
    kept = list(db.visits.find({"_id": under(hashed(visitor))}, sort=[("_id", 1)]))
    assert [(v["path"], v.get("subject_key")) for v in kept] == [(path, None), (path, person)]
    assert all((v["expire_at"] - v["at"]).days == 396 for v in kept)
    assert db.visitor_links.count_documents({"_id": under(person, "visitor")}) == 1
    for name in db.list_collection_names():
        for doc in db[name].find({}):
            assert visitor not in str(doc) and visitor[4:] not in str(doc), name


def test_ids_in_a_path_are_counted_as_markers(site: Any, db: Database) -> None:
    path = site.new_path()
    site.view(f"{path}/ord_0123456789abcdef0123456789abcdef/ada@example.com")
    assert db.page_counts.find_one({"path": f"{path}/[id]/[id]"}) is not None


@pytest.mark.parametrize(
    ("path", "visitor_id", "subject_key", "message"),
    [
        ("", "", "", "path is required"),
        ("secretvalue", "", "", "must start with /"),
        ("/search?q=secretvalue", "", "", "query string"),
        ("/" + "secretvalue" * 20, "", "", "at most 200"),
        ("/secret value", "", "", "characters of a web address"),
        ("/", "vis_secretvalue", "", "not a visitor id"),
        ("/", "", "a" * 64, "needs a visitor_id"),
        ("/", new_visitor_id(), "secretvalue", "not a subject key"),
    ],
)
def test_bad_input_is_refused_with_a_message_a_person_understands(
    stub: Stub, path: str, visitor_id: str, subject_key: str, message: str
) -> None:
    request = pb.RecordPageViewRequest(path=path, visitor_id=visitor_id, subject_key=subject_key)
    with pytest.raises(grpc.RpcError) as refused:
        stub.RecordPageView(request, timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = refused.value.details() or ""
    assert message in details and NOT_IN_THE_MESSAGE not in details


def test_bad_traffic_windows_and_visitor_ids_are_refused(stub: Stub) -> None:
    for days, top in ((401, 0), (-1, 0), (0, 51)):
        request = pb.GetTrafficRequest(days=days, top=top)
        call = partial(stub.GetTraffic, request, metadata=staff_metadata(MARKETER, MARKETING), timeout=10)
        assert code_of(call) == grpc.StatusCode.INVALID_ARGUMENT
    forget = pb.ForgetVisitorRequest(visitor_id="vis_x")
    assert code_of(lambda: stub.ForgetVisitor(forget, timeout=10)) == grpc.StatusCode.INVALID_ARGUMENT


def test_forgetting_a_visitor_deletes_its_visits_links_and_work_list_and_nothing_else(
    site: Any, stub: Stub, db: Database, hashed: Any
) -> None:
    path, visitor, other, person = site.new_path(), new_visitor_id(), new_visitor_id(), site.new_subject_key()
    site.view(path, visitor)
    site.view(path, visitor, person)
    site.view(path, other)
    reply = stub.ForgetVisitor(pb.ForgetVisitorRequest(visitor_id=visitor), timeout=10)
    assert (reply.deleted, reply.links_deleted) == (2, 1)
    gone = hashed(visitor)
    assert db.visits.count_documents({"_id": under(gone)}) == 0
    assert db.visitor_links.count_documents({"_id": under(gone)}) == 0
    assert db.visitor_links.count_documents({"_id": under(person)}) == 0
    assert db.visit_expiries.count_documents({"item": gone}) == 0
    assert db.visits.count_documents({"_id": under(hashed(other))}) == 1
    assert sum(d["count"] for d in db.page_counts.find({"path": path})) == 3  # counts stay
    again = stub.ForgetVisitor(pb.ForgetVisitorRequest(visitor_id=visitor), timeout=10)
    assert (again.deleted, again.links_deleted) == (0, 0)


def test_the_traffic_report_counts_every_replica_and_ranks_pages(site: Any, stub: Stub) -> None:
    busy, middling, quiet = site.new_path(), site.new_path(), site.new_path()
    for path, times in ((quiet, 1), (busy, 4), (middling, 2)):
        for _ in range(times):
            site.view(path)  # round-robin over both API replicas: two writers
    report = stub.GetTraffic(
        pb.GetTrafficRequest(days=7, top=50), metadata=staff_metadata(MARKETER, MARKETING), timeout=10
    )
    assert len(report.days) == 7 and [d.day for d in report.days] == sorted(d.day for d in report.days)
    assert report.total_views == sum(d.views for d in report.days) >= 7
    ranked = [(p.path, p.views) for p in report.top_pages if p.path in (busy, middling, quiet)]
    assert ranked == [(busy, 4), (middling, 2), (quiet, 1)]
    views = [p.views for p in report.top_pages]
    assert views == sorted(views, reverse=True)


def test_the_export_holds_the_persons_visits_before_and_after_log_in_only(site: Any, stub: Stub) -> None:
    path, visitor, person, other = (
        site.new_path(),
        new_visitor_id(),
        site.new_subject_key(),
        site.new_subject_key(),
    )
    site.view(path + "/before", visitor)
    site.view(path + "/after", visitor, person)
    site.view(path + "/someone-else", visitor, other)  # a shared browser: not the person's
    reply = stub.ExportSubjectData(
        subject_pb2.ExportSubjectDataRequest(subject=subject_pb2.Subject(subject_key=person)), timeout=10
    )
    assert reply.service == "analytics" and "TTDSG" in reply.lawful_bases[0]
    data = json.loads(reply.data_json)
    assert [(v["path"], v["logged_in"]) for v in data["page_views"]] == [
        (path + "/before", False),
        (path + "/after", True),
    ]
    assert all(v["at"].endswith("+00:00") for v in data["page_views"])
    declared = {h.collection for h in reply.inventory}
    assert "visits" in declared and "page_counts" not in declared


def test_the_inventory_names_the_consent_and_the_13_months(stub: Stub) -> None:
    reply = stub.DescribeInventory(subject_pb2.DescribeInventoryRequest(), timeout=10)
    held = {h.collection: h for h in reply.inventory}
    assert reply.service == "analytics" and "page_counts" not in held
    assert {"visits", "visitor_links", "visit_expiries"} <= set(held)
    assert "TTDSG" in held["visits"].lawful_basis and "13 months" in held["visits"].retention
