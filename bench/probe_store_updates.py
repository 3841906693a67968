"""How the dev store's reads and writes by ``_id`` scale with a collection's size.

    .venv/bin/python tools/stack.py run -- .venv/bin/python bench/probe_store_updates.py

FerretDB 1.24 (SQLite) answers ``find_one({"_id": ...})`` from its index, but
runs updates, replaces and counts by ``_id`` as a scan: they grow with the
collection. This explains why the shop's order rate falls as the orders pile up
(every order is written about six times: charge, paid, and the outbox's marks).
MongoDB does all of these by index. Prints figures; asserts nothing.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from pymongo import MongoClient

DOC = {
    "lines": [{"sku": f"SKU-{i}", "name": "x" * 40} for i in range(3)],
    "status": "placed",
    "payment": {"status": "pending"},
    "history": [{"status": "placed"}],
}


def main() -> None:
    client: MongoClient[dict[str, Any]] = MongoClient(os.environ["LETHE_MONGO_URL"])
    name = f"probe_{uuid.uuid4().hex[:8]}"
    collection = client[name]["orders"]
    try:
        for size in (1000, 5000):
            while collection.estimated_document_count() < size:
                collection.insert_many([{**DOC, "_id": uuid.uuid4().hex} for _ in range(500)])
            ids = [d["_id"] for d in collection.find({}, projection={"_id": 1}).limit(30)]

            calls: dict[str, Callable[[str], object]] = {
                "find_one by _id": lambda i: collection.find_one({"_id": i}),
                "update_one by _id": lambda i: collection.update_one({"_id": i}, {"$set": {"seen": True}}),
                "replace_one by _id": lambda i: collection.replace_one({"_id": i}, DOC),
                "count_documents by _id": lambda i: collection.count_documents({"_id": i}),
                "insert_one": lambda i: collection.insert_one({**DOC, "_id": uuid.uuid4().hex}),
            }
            for what, call in calls.items():
                started = time.perf_counter()
                for doc_id in ids:
                    call(doc_id)
                each = (time.perf_counter() - started) / len(ids) * 1000
                print(f"{size:>5} documents  {what:<28} {each:8.2f} ms")
    finally:
        client.drop_database(name)


if __name__ == "__main__":
    main()
