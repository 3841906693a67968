"""The analytics domain and repository against the real store (and broker, for receipts),
with the clock moved by hand instead of sleeping: retention, the traffic report over days,
counting from many threads and processes at once, and the inventory of what is stored."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.database import Database

from lethe_analytics.analytics import Analytics
from lethe_analytics.domain import PageView, new_visitor_id, visitor_hash
from lethe_analytics.erasure import AnalyticsErasure
from lethe_analytics.inventory import INVENTORY
from lethe_analytics.repository import AnalyticsRepository
from lethe_common.events.outbox import Outbox
from lethe_common.events.publisher import EventPublisher
from lethe_common.privacy import PrivacyEvent, ReceiptSender
from lethe_common.subject import Subject
from lethe_testing.inventory import describe, store_problems

KEY = b"k" * 32
RETENTION = timedelta(days=396)
T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Parts:
    db: Database
    clock: Clock
    analytics: Analytics
    erasure: AnalyticsErasure
    writers: list[AnalyticsRepository] = field(default_factory=list)


@pytest.fixture
def parts(test_db: Database, amqp_url: str) -> Iterator[Parts]:
    publisher = EventPublisher(amqp_url)
    clock = Clock()
    repo = AnalyticsRepository(test_db, writer=f"wrk_{uuid.uuid4().hex}")
    analytics = Analytics(repo, KEY, RETENTION, 10, clock)
    erasure = AnalyticsErasure(
        analytics, repo, ReceiptSender(test_db, Outbox(publisher, test_db, 1.0), "analytics")
    )
    yield Parts(test_db, clock, analytics, erasure, [repo])
    publisher.close()


def visits(db: Database, visitor: str) -> int:
    return db.visits.count_documents({"visitor": visitor_hash(KEY, visitor)})


def test_visits_go_when_their_retention_has_passed_and_not_a_second_before(parts: Parts) -> None:
    visitor = new_visitor_id()
    parts.analytics.record(PageView("/early", visitor))
    parts.clock.now = T0 + timedelta(days=10)
    parts.analytics.record(PageView("/later", visitor))
    assert parts.db.visit_expiries.count_documents({}) == 2

    first_expiry = T0 + RETENTION
    assert parts.analytics.sweep(first_expiry - timedelta(seconds=1)) == {
        "visits_deleted": 0,
        "entries_done": 0,
    }
    assert visits(parts.db, visitor) == 2
    assert parts.analytics.sweep(first_expiry + timedelta(seconds=1)) == {
        "visits_deleted": 1,
        "entries_done": 1,
    }
    [left] = parts.db.visits.find({})
    assert left["path"] == "/later" and left["expire_at"] == T0 + timedelta(days=10) + RETENTION
    assert parts.analytics.sweep(left["expire_at"] + timedelta(seconds=1))["visits_deleted"] == 1
    assert parts.db.visits.count_documents({}) == 0 and parts.db.visit_expiries.count_documents({}) == 0
    # The counts name no one and stay.
    assert sum(d["count"] for d in parts.db.page_counts.find({})) == 2


def test_the_traffic_report_shows_every_day_oldest_first_and_the_top_pages(parts: Parts) -> None:
    record = parts.analytics.record
    for path in ("/a", "/b", "/b", "/c", "/c"):
        record(PageView(path))
    parts.clock.now = T0 + timedelta(days=2)
    for path in ("/a", "/a", "/a", "/d"):
        record(PageView(path))

    report = parts.analytics.traffic(4, 3)
    assert report.days == [("2026-01-09", 0), ("2026-01-10", 5), ("2026-01-11", 0), ("2026-01-12", 4)]
    assert report.top_pages == [("/a", 4), ("/b", 2), ("/c", 2)]  # equal views: by path
    assert report.total == 9
    assert parts.analytics.traffic(1, 1).top_pages == [("/a", 3)]
    assert parts.analytics.traffic(1, 0).days == [("2026-01-12", 4)]


def test_two_processes_of_eight_threads_counting_one_page_lose_no_view(parts: Parts) -> None:
    """The dev store loses concurrent updates of one document; each process (writer) has a
    document of its own and counts in it one thread at a time."""
    writers = [parts.writers[0], AnalyticsRepository(parts.db, writer=f"wrk_{uuid.uuid4().hex}")]

    def count(repo: AnalyticsRepository) -> None:
        for _ in range(25):
            repo.count("2026-01-10", "/busy")

    threads = [threading.Thread(target=count, args=(w,)) for w in writers for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    docs = list(parts.db.page_counts.find({}))
    assert len(docs) == 2 and sum(d["count"] for d in docs) == 2 * 8 * 25
    assert all(set(d) == {"_id", "day", "path", "count"} for d in docs)


def test_everything_the_analytics_store_holds_is_in_its_inventory(parts: Parts) -> None:
    keep, erase = Subject(subject_key=uuid.uuid4().hex * 2), Subject(subject_key=uuid.uuid4().hex * 2)
    for person in (keep, erase):
        visitor = new_visitor_id()
        parts.analytics.record(PageView("/before-login", visitor))
        parts.analytics.record(PageView("/after-login", visitor, person.subject_key))
    parts.analytics.record(PageView("/anonymous"))
    receipt = parts.erasure.erase(PrivacyEvent("erasure", f"pr_{uuid.uuid4().hex}", erase))
    assert receipt.deleted and "2 page view(s)" in receipt.note

    problems = store_problems(parts.db, INVENTORY)
    assert not problems, "\n".join(problems) + "\n" + json.dumps(describe(parts.db), indent=1)
    assert {"page_counts", "visits", "visitor_links", "visit_expiries"} <= set(
        parts.db.list_collection_names()
    )


def test_a_second_handler_of_an_erasure_reports_what_the_first_found_before_it_deleted(
    parts: Parts,
) -> None:
    """A redelivered erasure handled at once by another worker: that one finds nothing left,
    yet whichever sends the receipt, it says what was deleted."""
    person = Subject(subject_key=uuid.uuid4().hex * 2)
    visitor, request = new_visitor_id(), PrivacyEvent("erasure", f"pr_{uuid.uuid4().hex}", person)
    parts.analytics.record(PageView("/before-login", visitor))
    parts.analytics.record(PageView("/after-login", visitor, person.subject_key))
    # The first handler found and deleted, and has not sent its receipt yet.
    repo = parts.writers[0]
    assert parts.analytics.held_by(person.subject_key) == (2, 1)
    repo.first_finding(request.request_id, {"visits": 2, "visitors": 1})
    parts.analytics.forget_person(person.subject_key)

    receipt = parts.erasure.erase(request)  # the second handler, finding nothing left
    assert receipt.deleted and receipt.note == "2 page view(s) of 1 visitor cookie(s) deleted"
    [sent] = parts.db.privacy_receipts_sent.find({})
    assert sent["receipt"]["note"] == receipt.note
    assert parts.db.erasure_findings.count_documents({}) == 0
    assert parts.erasure.erase(request).note.startswith("no page views")  # a later repeat
    assert parts.db.privacy_receipts_sent.count_documents({}) == 1
