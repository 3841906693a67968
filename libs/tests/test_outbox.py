"""The single-document outbox and its relay, against the real store and broker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from pymongo.database import Database

from lethe_common.events.envelope import Envelope
from lethe_common.events.outbox import DUE_FIELD, OUTBOX_FIELD, Outbox, OutboxRelay
from lethe_common.events.publisher import EventPublisher
from lethe_common.testing import EventTap

UNREACHABLE_BROKER = "amqp://guest:guest@127.0.0.1:1//"


def ping_event(note: str = "outbox-test") -> Envelope:
    return Envelope(type="system.ping", source="identity",
                    payload={"ping_id": "0" * 32, "note": note})


@pytest.fixture
def publisher(amqp_url: str) -> Iterator[EventPublisher]:
    publisher = EventPublisher(amqp_url)
    yield publisher
    publisher.close()


def test_writer_publishes_right_after_the_write_and_clears_its_outbox(
        test_db: Database, publisher: EventPublisher, tap: EventTap) -> None:
    outbox, things = Outbox(publisher, grace_seconds=30), test_db["things"]
    event = ping_event()
    things.insert_one(outbox.stage_new({"_id": "a", "value": 1}, event))

    assert outbox.publish_staged(things, "a", event) is True

    bodies = tap.wait_for_ids({event.id})
    assert [b["id"] for b in bodies] == [event.id]
    doc = things.find_one({"_id": "a"})
    assert doc is not None and doc[OUTBOX_FIELD] == {} and DUE_FIELD not in doc


def test_change_and_event_are_written_by_one_update(test_db: Database, publisher: EventPublisher) -> None:
    outbox, things = Outbox(publisher, grace_seconds=30), test_db["things"]
    things.insert_one({"_id": "a", "value": 1})
    event = ping_event()

    things.update_one({"_id": "a"}, outbox.stage({"$set": {"value": 2}}, event))

    doc = things.find_one({"_id": "a"})
    assert doc is not None and doc["value"] == 2
    assert Envelope.from_document(doc[OUTBOX_FIELD][event.id]) == event


def test_relay_publishes_what_a_crashed_writer_left_exactly_once(
        test_db: Database, publisher: EventPublisher, tap: EventTap) -> None:
    things = test_db["things"]
    event = ping_event()
    # The writer wrote change and event, then died before publishing.
    things.insert_one(Outbox(publisher, grace_seconds=0).stage_new({"_id": "a"}, event))
    relay = OutboxRelay(publisher, [things], lease_seconds=30)

    assert relay.run_once() == 1
    assert relay.run_once() == 0

    assert [b["id"] for b in tap.wait_for_ids({event.id})] == [event.id]
    assert DUE_FIELD not in (things.find_one({"_id": "a"}) or {})


def test_relay_leaves_fresh_events_to_their_writer(test_db: Database, publisher: EventPublisher) -> None:
    things = test_db["things"]
    things.insert_one(Outbox(publisher, grace_seconds=60).stage_new({"_id": "a"}, ping_event()))

    assert OutboxRelay(publisher, [things], lease_seconds=30).run_once() == 0


def test_unconfirmed_publish_leaves_the_event_for_the_relay(
        test_db: Database, publisher: EventPublisher, tap: EventTap) -> None:
    things = test_db["things"]
    broken = EventPublisher(UNREACHABLE_BROKER, connect_timeout=0.5)
    outbox = Outbox(broken, grace_seconds=0)
    event = ping_event()
    things.insert_one(outbox.stage_new({"_id": "a"}, event))

    assert outbox.publish_staged(things, "a", event) is False
    assert event.id in (things.find_one({"_id": "a"}) or {})[OUTBOX_FIELD]

    assert OutboxRelay(publisher, [things], lease_seconds=30).run_once() == 1
    assert [b["id"] for b in tap.wait_for_ids({event.id})] == [event.id]


def test_a_relay_that_dies_holding_a_claim_loses_it_when_the_lease_ends(
        test_db: Database, publisher: EventPublisher, tap: EventTap) -> None:
    things = test_db["things"]
    event = ping_event()
    things.insert_one(Outbox(publisher, grace_seconds=0).stage_new({"_id": "a"}, event))
    # This relay claims the document, then cannot publish (as if it died).
    stuck = OutboxRelay(EventPublisher(UNREACHABLE_BROKER, connect_timeout=0.5), [things],
                        lease_seconds=30)
    claimed_at = datetime.now(UTC)
    assert stuck.run_once(now=claimed_at) == 0
    healthy = OutboxRelay(publisher, [things], lease_seconds=30)

    assert healthy.run_once(now=claimed_at + timedelta(seconds=29)) == 0, \
        "the lease must keep a second relay off the document"
    assert healthy.run_once(now=claimed_at + timedelta(seconds=31)) == 1
    assert [b["id"] for b in tap.wait_for_ids({event.id})] == [event.id]


def test_concurrent_relays_publish_each_event_once(
        test_db: Database, amqp_url: str, tap: EventTap) -> None:
    things = test_db["things"]
    events = [ping_event(f"n{i}") for i in range(30)]
    staging = Outbox(EventPublisher(amqp_url), grace_seconds=0)
    things.insert_many([staging.stage_new({"_id": i}, e) for i, e in enumerate(events)])
    relays = [OutboxRelay(EventPublisher(amqp_url), [things], lease_seconds=60) for _ in range(3)]
    counts: list[int] = []
    threads = [threading.Thread(target=lambda r=r: counts.append(r.run_once())) for r in relays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(counts) == len(events)
    bodies = tap.wait_for_ids({e.id for e in events})
    assert sorted(b["id"] for b in bodies) == sorted(e.id for e in events)


def test_a_second_writer_does_not_clear_an_event_still_pending(
        test_db: Database, publisher: EventPublisher, tap: EventTap) -> None:
    things = test_db["things"]
    outbox = Outbox(publisher, grace_seconds=0)
    lost, sent = ping_event("first"), ping_event("second")
    things.insert_one({"_id": "a"})
    things.update_one({"_id": "a"}, outbox.stage({"$set": {"v": 1}}, lost))  # writer died here
    things.update_one({"_id": "a"}, outbox.stage({"$set": {"v": 2}}, sent))
    assert outbox.publish_staged(things, "a", sent)

    doc = things.find_one({"_id": "a"}) or {}
    assert list(doc[OUTBOX_FIELD]) == [lost.id] and DUE_FIELD in doc
    assert OutboxRelay(publisher, [things], lease_seconds=30).run_once() == 1
    assert {b["id"] for b in tap.wait_for_ids({lost.id, sent.id})} == {lost.id, sent.id}


def test_backlog_metric_counts_documents_with_pending_events(
        test_db: Database, publisher: EventPublisher) -> None:
    things = test_db["things"]
    outbox = Outbox(publisher, grace_seconds=60)
    things.insert_many([outbox.stage_new({"_id": i}, ping_event()) for i in range(3)])
    things.insert_one({"_id": "clean"})

    OutboxRelay(publisher, [things], lease_seconds=30).update_backlog_metrics()

    assert REGISTRY.get_sample_value("lethe_outbox_backlog", {"collection": "things"}) == 3


def test_an_invalid_entry_is_quarantined_and_the_valid_ones_still_go_out(
        test_db: Database, publisher: EventPublisher, tap: EventTap) -> None:
    things = test_db["things"]
    good = ping_event("good")
    doc = Outbox(publisher, grace_seconds=0).stage_new({"_id": "a"}, good)
    doc[OUTBOX_FIELD]["broken"] = {"type": "no envelope"}
    things.insert_one(doc)
    poisoned_before = REGISTRY.get_sample_value("lethe_outbox_poisoned_total",
                                                {"collection": "things"}) or 0.0

    assert OutboxRelay(publisher, [things], lease_seconds=30).run_once() == 1

    assert [b["id"] for b in tap.wait_for_ids({good.id})] == [good.id]
    stored = things.find_one({"_id": "a"}) or {}
    assert stored[OUTBOX_FIELD] == {} and DUE_FIELD not in stored
    assert stored["_outbox_poison"] == {"broken": {"type": "no envelope"}}
    assert REGISTRY.get_sample_value("lethe_outbox_poisoned_total",
                                     {"collection": "things"}) == poisoned_before + 1


def test_a_later_write_never_pushes_an_earlier_due_time_back(test_db: Database,
                                                             publisher: EventPublisher) -> None:
    things = test_db["things"]
    outbox = Outbox(publisher, grace_seconds=0)
    things.insert_one({"_id": "a"})
    things.update_one({"_id": "a"}, outbox.stage({"$set": {"v": 1}}, ping_event("stranded")))
    first_due = (things.find_one({"_id": "a"}) or {})[DUE_FIELD]

    things.update_one({"_id": "a"}, Outbox(publisher, grace_seconds=60).stage({"$set": {"v": 2}},
                                                                             ping_event("later")))

    assert (things.find_one({"_id": "a"}) or {})[DUE_FIELD] == first_due


def test_an_update_without_events_sets_no_due_time(test_db: Database, publisher: EventPublisher) -> None:
    things = test_db["things"]
    things.insert_one({"_id": "a"})

    things.update_one({"_id": "a"}, Outbox(publisher, grace_seconds=0).stage({"$set": {"v": 1}}))

    assert DUE_FIELD not in (things.find_one({"_id": "a"}) or {})
