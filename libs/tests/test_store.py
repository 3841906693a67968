"""The store helpers (keys, pages, index documents, step logs) against the real dev store."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.database import Database

from lethe_common.errors import FailedPrecondition
from lethe_common.store.index import OwnerIndex, TimeQueue
from lethe_common.store.keys import from_timekey, key, seqkey, timekey, under
from lethe_common.store.paging import filtered_page, page, scan
from lethe_common.store.steps import Step, StepLog


def test_keys_sort_by_their_parts_and_times() -> None:
    early, late = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 5, 7, tzinfo=UTC)
    assert timekey(early) < timekey(late) and from_timekey(timekey(late)) == late
    assert seqkey(9) < seqkey(10)
    assert key("a", "b") == "a/b"
    for bad in ("", "x/y"):
        with pytest.raises(ValueError, match="key part"):
            key("a", bad)
    with pytest.raises(ValueError, match="aware"):
        timekey(datetime(2026, 1, 1))


def test_a_range_under_a_prefix_holds_exactly_its_keys(test_db: Database) -> None:
    things = test_db["things"]
    things.insert_many([{"_id": i} for i in ("a", "a/1", "a/2/x", "a0", "a.", "ab/1", "b/1")])

    assert [d["_id"] for d in things.find({"_id": under("a")}, sort=[("_id", 1)])] == ["a/1", "a/2/x"]


def test_pages_walk_a_range_forwards_and_backwards_without_gaps(test_db: Database) -> None:
    things = test_db["things"]
    things.insert_many([{"_id": key("p", f"{i:03d}")} for i in range(25)] + [{"_id": "q/000"}])

    forwards, cursor = [], ""
    while True:
        current = page(things, under("p"), after=cursor, limit=10)
        forwards += [d["_id"] for d in current.items]
        if not (cursor := current.next_cursor):
            break
    backwards = [d["_id"] for d in scan(things, under("p"), batch=7)]
    last_five = page(things, under("p"), limit=5, descending=True)

    assert forwards == [f"p/{i:03d}" for i in range(25)] == backwards
    assert [d["_id"] for d in last_five.items] == [f"p/{i:03d}" for i in range(24, 19, -1)]
    assert (
        page(things, under("p"), after=last_five.next_cursor, limit=5, descending=True).items[0]["_id"]
        == "p/019"
    )


def test_a_filtered_page_reads_a_bounded_number_of_pages(test_db: Database) -> None:
    things = test_db["things"]
    things.insert_many([{"_id": key("p", f"{i:03d}"), "even": i % 2 == 0} for i in range(40)])
    reads: list[str] = []

    def fetch(after: str, limit: int):  # type: ignore[no-untyped-def]
        reads.append(after)
        return page(things, under("p"), after=after, limit=limit)

    evens = filtered_page(fetch, lambda d: d["even"], limit=5)
    none = filtered_page(fetch, lambda d: False, limit=5, max_reads=3)

    assert [d["_id"] for d in evens.items] == [f"p/{i:03d}" for i in range(0, 10, 2)]
    assert evens.next_cursor == "p/008"
    assert none.items == [] and none.next_cursor == "p/014", "stops after three reads, resumable"


def test_the_owner_index_finds_an_owners_items_by_kind(test_db: Database) -> None:
    index = OwnerIndex(test_db["subject_index"])
    index.add("k1", "order", "ord_1")
    index.add("k1", "order", "ord_1")  # again: nothing changes
    index.add("k1", "order", "ord_2")
    index.add("k1", "contact", "cr_1")
    index.add("k2", "order", "ord_3")

    assert index.items("k1", "order") == ["ord_1", "ord_2"]
    assert sorted(d["_id"] for d in index.entries("k1")) == [
        "k1/contact/cr_1",
        "k1/order/ord_1",
        "k1/order/ord_2",
    ]
    assert index.has("k2", "order", "ord_3") and not index.has("k2", "order", "ord_1")
    assert index.remove("k1", "order", "ord_1") and not index.remove("k1", "order", "ord_1")
    assert index.remove_owner("k1") == 2
    assert index.items("k1", "order") == [] and index.items("k2", "order") == ["ord_3"]


def test_a_time_queue_hands_out_what_is_due_in_time_order(test_db: Database) -> None:
    queue = TimeQueue(test_db["expiries"])
    now = datetime.now(UTC)
    for minutes, item in ((-5, "a"), (-1, "b"), (0, "c"), (5, "d")):
        queue.schedule("sessions", now + timedelta(minutes=minutes), item)
    queue.schedule("tokens", now - timedelta(minutes=9), "t")

    due = queue.due("sessions", now)

    assert [d["item"] for d in due] == ["a", "b", "c"]
    assert queue.remove(due[0]["_id"]) and not queue.remove(due[0]["_id"])
    assert [d["item"] for d in queue.page("sessions", descending=True).items] == ["d", "c", "b"]


def test_steps_are_read_in_order_and_a_taken_number_is_refused(test_db: Database) -> None:
    log = StepLog(test_db["steps"])

    assert log.append("ord_1", 0, Step({"status": "placed"}))
    assert not log.append("ord_1", 0, Step({"status": "paid"}))
    assert log.append("ord_1", 1, Step({"status": "paid"}))

    assert [s["status"] for s in log.steps("ord_1")] == ["placed", "paid"]
    assert log.delete("ord_1") == 2 and log.steps("ord_1") == []


def test_concurrent_writers_of_one_thing_lose_nothing_and_apply_nothing_twice(test_db: Database) -> None:
    """Forty writers at once, each adding its own step once: every step lands exactly once.

    The same with update_one's $push on the dev store loses most of them (bench/bench_store.py)."""
    log = StepLog(test_db["steps"])
    log.append("counter", 0, Step({"writer": "start"}))

    def write(name: str) -> None:
        def decide(steps: list[dict]) -> Step | None:
            return None if any(s["writer"] == name for s in steps) else Step({"writer": name})

        log.append_after("counter", decide)
        log.append_after("counter", decide)  # a repeat changes nothing

    writers = [threading.Thread(target=write, args=(f"w{i}",)) for i in range(40)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()

    names = [s["writer"] for s in log.steps("counter")]
    assert sorted(names) == sorted(["start", *(f"w{i}" for i in range(40))])
    assert [s["n"] for s in log.steps("counter")] == list(range(41))


def test_two_writers_deciding_the_same_move_one_wins_the_other_sees_it(test_db: Database) -> None:
    log = StepLog(test_db["steps"])
    log.append("req", 0, Step({"status": "open"}))
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide_once(steps: list[dict]) -> Step:
        if steps[-1]["status"] != "open":
            raise FailedPrecondition("decided already")
        return Step({"status": "decided"})

    def staff() -> None:
        barrier.wait()
        try:
            log.append_after("req", decide_once)
            outcomes.append("won")
        except FailedPrecondition:
            outcomes.append("refused")

    threads = [threading.Thread(target=staff) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["refused", "won"]
    assert [s["status"] for s in log.steps("req")] == ["open", "decided"]
