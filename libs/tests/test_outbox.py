"""The outbox (intents, the change, publishing) and its relay, against the real store and broker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from lethe_common.events.envelope import Envelope
from lethe_common.events.outbox import EVENTS_FIELD, OUTBOX, POISON, Outbox, OutboxRelay
from lethe_common.events.publisher import EventPublisher
from lethe_testing import EventTap

UNREACHABLE_BROKER = "amqp://guest:guest@127.0.0.1:1//"


def ping_event(note: str = "outbox-test") -> Envelope:
    return Envelope(type="system.ping", source="identity", payload={"ping_id": "0" * 32, "note": note})


@pytest.fixture
def publisher(amqp_url: str) -> Iterator[EventPublisher]:
    publisher = EventPublisher(amqp_url)
    yield publisher
    publisher.close()


def broken_publisher() -> EventPublisher:
    return EventPublisher(UNREACHABLE_BROKER, connect_timeout=0.5)


def intents(db: Database) -> list[dict]:
    return list(db[OUTBOX].find({}))


def test_writer_publishes_right_after_the_write_and_leaves_no_intent(
    test_db: Database, publisher: EventPublisher, tap: EventTap
) -> None:
    outbox, things = Outbox(publisher, test_db, grace_seconds=30), test_db["things"]
    event = ping_event()

    assert outbox.insert(things, {"_id": "a", "value": 1}, event) is True

    assert [b["id"] for b in tap.wait_for_ids({event.id})] == [event.id]
    assert intents(test_db) == []
    assert (things.find_one({"_id": "a"}) or {})[EVENTS_FIELD] == {event.id: True}


def test_an_update_marks_its_events_in_the_same_write(test_db: Database, publisher: EventPublisher) -> None:
    outbox, things = Outbox(broken_publisher(), test_db, grace_seconds=30), test_db["things"]
    things.insert_one({"_id": "a", "value": 1})
    event = ping_event()

    outbox.update(things, "a", {"$set": {"value": 2}}, event)

    doc = things.find_one({"_id": "a"}) or {}
    assert doc["value"] == 2 and doc[EVENTS_FIELD] == {event.id: True}
    [intent] = intents(test_db)
    assert Envelope.from_document(intent["event"]) == event
    assert (intent["collection"], intent["doc_id"]) == ("things", "a")


def test_a_change_that_loses_its_race_leaves_no_intent_and_no_event(
    test_db: Database, publisher: EventPublisher
) -> None:
    outbox, things = Outbox(publisher, test_db, grace_seconds=0), test_db["things"]
    outbox.insert(things, {"_id": "a"}, ping_event("winner"))

    with pytest.raises(DuplicateKeyError):
        outbox.insert(things, {"_id": "a"}, ping_event("loser"))
    result = outbox.update(things, "missing", {"$set": {"v": 1}}, ping_event("nothing matched"))

    assert result.matched_count == 0
    assert intents(test_db) == []


def test_relay_publishes_what_a_crashed_writer_left_exactly_once(
    test_db: Database, publisher: EventPublisher, tap: EventTap
) -> None:
    things = test_db["things"]
    event = ping_event()
    # The writer made the change, then could not publish (as if it died).
    Outbox(broken_publisher(), test_db, grace_seconds=0).insert(things, {"_id": "a"}, event)
    relay = OutboxRelay(publisher, test_db, lease_seconds=30)

    assert relay.run_once() == 1
    assert relay.run_once() == 0

    assert [b["id"] for b in tap.wait_for_ids({event.id})] == [event.id]
    assert intents(test_db) == []


def test_relay_drops_an_intent_whose_change_never_happened(
    test_db: Database, publisher: EventPublisher
) -> None:
    """The writer wrote its intent and died before the change: the event must never go out."""
    outbox = Outbox(publisher, test_db, grace_seconds=0)
    event = ping_event("never happened")

    def die() -> None:
        raise RuntimeError("the writer died between intent and change")

    with pytest.raises(RuntimeError):
        outbox.write(test_db["things"], "a", [event], die)
    [intent] = intents(test_db)
    relay = OutboxRelay(publisher, test_db, lease_seconds=1, abandon_seconds=60)

    assert relay.run_once() == 0, "a young intent without its change waits for its writer"
    assert len(intents(test_db)) == 1
    later = intent["created_at"] + timedelta(seconds=61)
    assert relay.run_once(now=later) == 0
    assert intents(test_db) == []
    assert REGISTRY.get_sample_value("lethe_outbox_abandoned_total") >= 1


def test_relay_leaves_fresh_events_to_their_writer(test_db: Database, publisher: EventPublisher) -> None:
    Outbox(broken_publisher(), test_db, grace_seconds=60).insert(
        test_db["things"], {"_id": "a"}, ping_event()
    )

    assert OutboxRelay(publisher, test_db, lease_seconds=30).run_once() == 0
    assert len(intents(test_db)) == 1


def test_a_relay_that_dies_holding_a_claim_loses_it_when_the_lease_ends(
    test_db: Database, publisher: EventPublisher, tap: EventTap
) -> None:
    event = ping_event()
    Outbox(broken_publisher(), test_db, grace_seconds=0).insert(test_db["things"], {"_id": "a"}, event)
    # This relay claims the intent, then cannot publish (as if it died).
    stuck = OutboxRelay(broken_publisher(), test_db, lease_seconds=30)
    claimed_at = datetime.now(UTC)
    assert stuck.run_once(now=claimed_at) == 0
    healthy = OutboxRelay(publisher, test_db, lease_seconds=30)

    assert healthy.run_once(now=claimed_at + timedelta(seconds=29)) == 0, (
        "the lease must keep a second relay off the intent"
    )
    assert healthy.run_once(now=claimed_at + timedelta(seconds=31)) == 1
    assert [b["id"] for b in tap.wait_for_ids({event.id})] == [event.id]


def test_concurrent_relays_publish_each_event_once(test_db: Database, amqp_url: str, tap: EventTap) -> None:
    things = test_db["things"]
    events = [ping_event(f"n{i}") for i in range(30)]
    writer = Outbox(broken_publisher(), test_db, grace_seconds=0)
    for i, event in enumerate(events):
        writer.insert(things, {"_id": i}, event)
    relays = [OutboxRelay(EventPublisher(amqp_url), test_db, lease_seconds=60) for _ in range(3)]
    counts: list[int] = []
    threads = [threading.Thread(target=lambda r=r: counts.append(r.run_once())) for r in relays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(counts) == len(events)
    bodies = tap.wait_for_ids({e.id for e in events})
    assert sorted(b["id"] for b in bodies) == sorted(e.id for e in events)


def test_the_relay_never_writes_the_business_document(
    test_db: Database, publisher: EventPublisher, tap: EventTap
) -> None:
    """A relay that rewrote the document could undo a concurrent change on the dev store."""
    things = test_db["things"]
    event = ping_event()
    things.insert_one({"_id": "a"})
    Outbox(broken_publisher(), test_db, grace_seconds=0).update(things, "a", {"$set": {"v": 1}}, event)
    before = things.find_one({"_id": "a"})

    assert OutboxRelay(publisher, test_db, lease_seconds=30).run_once() == 1

    assert things.find_one({"_id": "a"}) == before
    tap.wait_for_ids({event.id})


def test_backlog_metric_counts_the_events_that_wait(test_db: Database, publisher: EventPublisher) -> None:
    writer = Outbox(broken_publisher(), test_db, grace_seconds=60)
    for i in range(3):
        writer.insert(test_db["things"], {"_id": i}, ping_event())

    OutboxRelay(publisher, test_db, lease_seconds=30).update_backlog_metrics()

    assert REGISTRY.get_sample_value("lethe_outbox_backlog", {"collection": OUTBOX}) == 3
    assert REGISTRY.get_sample_value("lethe_outbox_oldest_pending_seconds", {"collection": OUTBOX}) >= 0


def test_an_invalid_intent_is_quarantined_and_the_valid_ones_still_go_out(
    test_db: Database, publisher: EventPublisher, tap: EventTap
) -> None:
    good = ping_event("good")
    Outbox(broken_publisher(), test_db, grace_seconds=0).insert(test_db["things"], {"_id": "a"}, good)
    test_db[OUTBOX].insert_one(
        {
            "_id": "2000-01-01T00:00:00.000000Z/broken",
            "event": {"type": "no envelope"},
            "collection": "things",
            "doc_id": "a",
            "created_at": datetime.now(UTC),
        }
    )
    poisoned_before = REGISTRY.get_sample_value("lethe_outbox_poisoned_total", {"collection": OUTBOX}) or 0.0

    assert OutboxRelay(publisher, test_db, lease_seconds=30).run_once() == 1

    assert [b["id"] for b in tap.wait_for_ids({good.id})] == [good.id]
    assert intents(test_db) == []
    assert [d["_id"] for d in test_db[POISON].find()] == ["2000-01-01T00:00:00.000000Z/broken"]
    assert (
        REGISTRY.get_sample_value("lethe_outbox_poisoned_total", {"collection": OUTBOX})
        == poisoned_before + 1
    )


def test_the_relay_reads_only_what_is_due(test_db: Database, publisher: EventPublisher) -> None:
    """The relay's read is one _id range of the outbox with a limit, never a scan."""
    Outbox(broken_publisher(), test_db, grace_seconds=60).insert(
        test_db["things"], {"_id": "a"}, ping_event()
    )
    explained = test_db.command(
        "explain",
        {
            "find": OUTBOX,
            "filter": {"_id": {"$lt": "2026-01-01T00:00:00.000000Z"}},
            "sort": {"_id": 1},
            "limit": 100,
        },
    )

    plan = " ".join(explained["queryPlanner"]["Plan"])
    assert "USING INDEX" in plan and "SCAN" not in plan, plan
    assert explained["limitPushdown"] is True


def test_lease_sweep_removes_only_claims_of_long_due_intents(
    test_db: Database, publisher: EventPublisher
) -> None:
    leases = test_db["outbox_leases"]
    now = datetime.now(UTC)
    leases.insert_many(
        [
            {"_id": f"{(now - timedelta(days=2)).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}/e1/0"},
            {"_id": f"{now.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}/e2/0"},
        ]
    )

    assert OutboxRelay(publisher, test_db, lease_seconds=30).sweep_leases(now) == 1
    assert [d["_id"].split("/")[1] for d in leases.find()] == ["e2"]
