"""The analytics worker on the real bus: erasure (with the visitor's page views from before
the log-in) and its receipt, a restriction's receipt, a withdrawn analytics consent, and the
proof of erasure's search over gRPC."""

from __future__ import annotations

import time
import uuid
from typing import Any

from pymongo.database import Database

from lethe.common.v1 import subject_pb2
from lethe_analytics.domain import new_visitor_id
from lethe_analytics.erasure import NOTHING_TO_RESTRICT
from lethe_common.store.keys import under
from lethe_testing import EventTap, wait_for


def request_id() -> str:
    return f"pr_{uuid.uuid4().hex}"


def receipts_of(tap: EventTap, request: str) -> list[dict[str, Any]]:
    """The receipts for ``request`` on the tap: once one came, whatever follows within 1.5 s."""
    seen: list[dict[str, Any]] = []

    def arrived() -> bool:
        seen.extend(e for e in tap.drain(0.2) if e["payload"]["request_id"] == request)  # type: ignore[index]
        return bool(seen)

    wait_for(arrived, 15, what="a receipt")
    time.sleep(1.0)
    return seen + [e for e in tap.drain() if e["payload"]["request_id"] == request]  # type: ignore[index]


def test_an_erasure_deletes_the_visits_from_before_the_log_in_and_answers_once(
    site: Any, db: Database, hashed: Any, publish: Any, amqp_url: str
) -> None:
    path, person = site.new_path(), site.new_subject_key()
    laptop, phone, stranger = new_visitor_id(), new_visitor_id(), new_visitor_id()
    site.view(path, laptop)  # before logging in
    site.view(path, laptop)
    site.view(path, laptop, person)
    site.view(path, phone, person)
    site.view(path, stranger)
    request = request_id()
    with EventTap(amqp_url, "analytics", "privacy.receipt") as tap:
        for _ in range(2):  # delivered twice: deleted once, answered once
            publish("privacy.erasure_requested", person, {"request_id": request, "account_id": ""})
        wait_for(
            lambda: (
                db.visits.count_documents({"_id": under(hashed(laptop))}) == 0
                and db.visits.count_documents({"_id": under(hashed(phone))}) == 0
            ),
            15,
            what="the person's visits to go",
        )
        receipts = receipts_of(tap, request)
    ours = [r for r in receipts if r["payload"]["deleted"]]
    assert len(ours) == 1 and ours[0]["source"] == "analytics"
    assert (
        ours[0]["payload"]["outcome"] == "done"
        and "4 page view(s) of 2 visitor cookie(s)" in ours[0]["payload"]["note"]
    )
    assert person not in str(ours[0]["payload"])
    assert db.privacy_receipts_sent.count_documents({"_id": under(request)}) == 1
    assert db.visitor_links.count_documents({"_id": under(person)}) == 0
    assert db.visits.count_documents({"_id": under(hashed(stranger))}) == 1


def test_a_restriction_is_answered_with_nothing_to_restrict(
    site: Any, publish: Any, amqp_url: str, db: Database
) -> None:
    person, request = site.new_subject_key(), request_id()
    site.view(site.new_path(), new_visitor_id(), person)
    with EventTap(amqp_url, "analytics", "privacy.receipt") as tap:
        publish(
            "privacy.restriction_changed",
            person,
            {"request_id": request, "account_id": "", "restricted": True},
        )
        receipts = receipts_of(tap, request)
    # Every analytics backend on the broker answers alike; ours sent one.
    assert db.privacy_receipts_sent.count_documents({"_id": under(request)}) == 1
    for receipt in receipts:
        payload = receipt["payload"]
        assert (payload["kind"], payload["note"], payload["blocked"], payload["deleted"]) == (
            "restriction",
            NOTHING_TO_RESTRICT,
            [],
            [],
        )


def test_withdrawing_the_analytics_consent_deletes_the_persons_visits_and_no_other_purpose_does(
    site: Any, publish: Any, db: Database, hashed: Any
) -> None:
    path, withdrawn, kept = site.new_path(), site.new_subject_key(), site.new_subject_key()
    visitor, other = new_visitor_id(), new_visitor_id()
    site.view(path, visitor)
    site.view(path, visitor, withdrawn)
    site.view(path, other, kept)

    def withdraw(person: str, purpose: str) -> None:
        payload = {
            "record_id": "cr_x",
            "account_id": "",
            "purpose": purpose,
            "channel": "web_form",
            "reason": "",
        }
        publish("consent.withdrawn", person, payload)

    withdraw(kept, "newsletter")
    withdraw(withdrawn, "analytics")
    wait_for(
        lambda: db.visits.count_documents({"_id": under(hashed(visitor))}) == 0, 15, what="the visits to go"
    )
    time.sleep(1.0)  # the newsletter withdrawal had its chance too
    assert db.visitor_links.count_documents({"_id": under(withdrawn)}) == 0
    assert db.visits.count_documents({"_id": under(hashed(other))}) == 1
    assert db.visitor_links.count_documents({"_id": under(kept)}) == 1


def find(stub: Any, request: str, person: str) -> Any:
    sought = subject_pb2.SoughtPerson(request_id=request, subject=subject_pb2.Subject(subject_key=person))
    return stub.FindSubjectTraces(subject_pb2.FindSubjectTracesRequest(people=[sought]), timeout=30)


def test_the_search_finds_a_planted_trace_and_nothing_after_the_erasure(
    site: Any, stub: Any, db: Database
) -> None:
    person, request = site.new_subject_key(), request_id()
    site.view(site.new_path(), new_visitor_id(), person)
    db.stray.insert_one({"_id": "planted", "note": f"left behind by hand: {person}"})

    found = find(stub, request, person)
    places = {(t.collection, t.declared) for t in found.traces}
    assert {("visits", True), ("visitor_links", True), ("stray", False)} <= places
    assert all(person not in t.place for t in found.traces) and found.documents_searched > 0

    db.stray.drop()
    erased = stub.EraseSubject(
        subject_pb2.EraseSubjectRequest(subject=subject_pb2.Subject(subject_key=person), request_id=request),
        timeout=10,
    )
    assert erased.service == "analytics" and erased.deleted
    wait_for(lambda: db.outbox.count_documents({}) == 0, 15, what="the receipt's event to be published")
    assert list(find(stub, request, person).traces) == []
