"""The dev store (tools/ferretdb: FerretDB 1.24 with our patches) serves ``_id`` by its index.

SQLite's own plan, as FerretDB's ``explain`` reports it, says whether a statement searches
an index or scans the table: deterministic, no timing. For an update and a delete the
patched store also explains the statement that writes the matched document back by ``_id``
(``WritePlan``). Every hot path of Lethe rests on these plans (docs/architecture.md).
"""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.database import Database

from lethe_common.store.keys import under


@pytest.fixture
def orders(test_db: Database) -> Any:
    collection = test_db["orders"]
    collection.insert_many([{"_id": f"ord_{n:04d}", "status": "paid", "n": n} for n in range(50)])
    collection.create_index("status")
    return collection


def plan_of(explained: dict[str, Any], part: str = "Plan") -> str:
    return " | ".join(explained["queryPlanner"][part])


def assert_searches_index(plan: str, index_suffix: str) -> None:
    assert "SCAN" not in plan, f"the store scans: {plan}"
    assert "SEARCH" in plan and "USING INDEX" in plan and index_suffix in plan, plan


def explain(db: Database, command: dict[str, Any]) -> dict[str, Any]:
    return db.command("explain", command)


def test_a_find_by_id_searches_the_id_index(test_db: Database, orders: Any) -> None:
    explained = explain(test_db, {"find": "orders", "filter": {"_id": "ord_0007"}})
    assert_searches_index(plan_of(explained), "__id_")
    assert explained["filterPushdown"] is True


def test_an_update_by_id_finds_and_writes_by_the_id_index(test_db: Database, orders: Any) -> None:
    explained = explain(
        test_db,
        {"update": "orders", "updates": [{"q": {"_id": "ord_0007"}, "u": {"$set": {"status": "shipped"}}}]},
    )
    assert_searches_index(plan_of(explained), "__id_")
    assert_searches_index(plan_of(explained, "WritePlan"), "__id_")


def test_a_delete_by_id_finds_and_deletes_by_the_id_index(test_db: Database, orders: Any) -> None:
    explained = explain(test_db, {"delete": "orders", "deletes": [{"q": {"_id": "ord_0007"}, "limit": 1}]})
    assert_searches_index(plan_of(explained), "__id_")
    assert_searches_index(plan_of(explained, "WritePlan"), "__id_")


def test_an_id_with_further_keys_still_searches_the_id_index(test_db: Database, orders: Any) -> None:
    explained = explain(
        test_db,
        {
            "update": "orders",
            "updates": [{"q": {"_id": "ord_0007", "status": "paid"}, "u": {"$set": {"status": "shipped"}}}],
        },
    )
    assert_searches_index(plan_of(explained), "__id_")


def test_a_list_of_ids_searches_the_id_index(test_db: Database, orders: Any) -> None:
    explained = explain(test_db, {"find": "orders", "filter": {"_id": {"$in": ["ord_0001", "ord_0009"]}}})
    assert_searches_index(plan_of(explained), "__id_")


def test_a_page_by_id_is_one_index_range_with_its_order_and_limit(test_db: Database, orders: Any) -> None:
    for order in (1, -1):
        explained = explain(
            test_db, {"find": "orders", "filter": {"_id": under("ord")}, "sort": {"_id": order}, "limit": 10}
        )
        assert_searches_index(plan_of(explained), "_lethe_id_text")
        assert "TEMP B-TREE" not in plan_of(explained), "the order must come from the index"
        assert explained["sortPushdown"] is True and explained["limitPushdown"] is True


def test_a_page_returns_exactly_what_the_filter_and_sort_say(test_db: Database, orders: Any) -> None:
    test_db["orders"].insert_many([{"_id": 7}, {"_id": "ord_\u00e9"}, {"_id": "ord_"}, {"_id": "ord_0049 "}])

    ascending = [d["_id"] for d in orders.find({"_id": {"$gt": "ord_0047"}}, sort=[("_id", 1)], limit=3)]
    descending = [d["_id"] for d in orders.find({"_id": {"$lt": "ord_0002"}}, sort=[("_id", -1)], limit=3)]

    assert ascending == ["ord_0048", "ord_0049", "ord_0049 "]
    assert descending == ["ord_0001", "ord_0000", "ord_"]
    assert orders.count_documents({"_id": {"$gte": "ord_0049"}}) == 3  # "ord_0049", "ord_0049 ", "ord_é"


def test_any_other_filter_is_reported_as_a_scan(test_db: Database, orders: Any) -> None:
    """The plan check above can fail: a filter on another field, even an indexed one, scans."""
    plan = plan_of(explain(test_db, {"find": "orders", "filter": {"status": "paid"}}))
    assert "SCAN" in plan and "USING INDEX" not in plan, plan
