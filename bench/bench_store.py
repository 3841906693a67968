"""The dev store's cost by ``_id`` as a collection grows, and what it does not make atomic.

    make bench
    .venv/bin/python bench/bench_store.py --sizes 1000,20000,100000
    .venv/bin/python bench/bench_store.py --binary /path/to/another/lethe-ferretdb

Starts a private store (``var/bin/lethe-ferretdb``, or ``--binary``) on a free port and a
data folder of its own, fills one collection with orders of 16 fields up to each size in
turn, and at each size times (p50, p95) the operations Lethe's hot paths use: ``find_one``,
``update_one``, ``count_documents`` and ``delete_one`` by ``_id``, an ``_id`` plus another
key, a ``$in`` of 50 ids, a page of 50 by ``_id`` (keyset paging, both directions), and,
for contrast, a ``find`` on another indexed field, which the store evaluates by scanning.
Then the store's resident memory and its data folder's size. Last, the two races every
Lethe design must survive on this store: 8 threads x 200 ``$inc`` of one document, and
300 documents claimed by 3 threads with ``find_one_and_update``. Prints figures; asserts
nothing.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pymongo import ASCENDING, DESCENDING, MongoClient

from lethe_testing.servers import ROOT, private_store

SIXTEEN_FIELDS: dict[str, Any] = {
    "account_id": "acc_0",
    "subject_key": "k" * 64,
    "email_hash": "h" * 64,
    "status": "completed",
    "currency": "EUR",
    "net_cents": 99_900,
    "vat_cents": 18_981,
    "gross_cents": 118_881,
    "lines": [{"product_id": "prd_x", "sku": "KEY-1", "quantity": 1, "unit_cents": 99_900}],
    "billing": {"name": "N", "street": "S 1", "postcode": "10115", "city": "Berlin", "country": "DE"},
    "delivery": {"name": "N", "street": "S 1", "postcode": "10115", "city": "Berlin", "country": "DE"},
    "payment": {"provider": "sandbox", "reference": "ch_x", "status": "paid"},
    "history": [{"status": "placed"}, {"status": "paid"}],
    "idempotency_key": "k-0",
    "created_at": "2026-11-30T00:00:00Z",
}


def order_id(n: int) -> str:
    return f"ord_{n:032x}"


def timed(call: Callable[[], object], rounds: int) -> tuple[float, float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def fill(collection: Any, start: int, stop: int) -> None:
    for first in range(start, stop, 1000):
        collection.insert_many(
            [
                {**SIXTEEN_FIELDS, "_id": order_id(n), "account_id": f"acc_{n}", "n": n}
                for n in range(first, min(stop, first + 1000))
            ]
        )


def measure(collection: Any, size: int, rounds: int) -> dict[str, tuple[float, float]]:
    def any_id() -> str:
        return order_id(secrets.randbelow(size))

    deleted = iter(range(size - 1, -1, -1))
    calls: dict[str, Callable[[], object]] = {
        "find_one by _id": lambda: collection.find_one({"_id": any_id()}),
        "update_one by _id": lambda: collection.update_one({"_id": any_id()}, {"$inc": {"n": 0}}),
        "update_one by _id and status": lambda: collection.update_one(
            {"_id": any_id(), "status": "completed"}, {"$set": {"seen": True}}
        ),
        "count_documents by _id": lambda: collection.count_documents({"_id": any_id()}),
        "find $in of 50 ids": lambda: list(collection.find({"_id": {"$in": [any_id() for _ in range(50)]}})),
        "page of 50 by _id, ascending": lambda: list(
            collection.find({"_id": {"$gt": any_id()}}, sort=[("_id", ASCENDING)], limit=50)
        ),
        "page of 50 by _id, descending": lambda: list(
            collection.find({"_id": {"$lt": any_id()}}, sort=[("_id", DESCENDING)], limit=50)
        ),
        "delete_one by _id (then put back)": lambda: _delete_and_restore(collection, next(deleted)),
        "find_one on account_id (indexed, scanned)": lambda: collection.find_one(
            {"account_id": f"acc_{secrets.randbelow(size)}"}
        ),
    }
    out = {}
    for name, call in calls.items():
        slow = "scanned" in name
        out[name] = timed(call, max(5, rounds // 20) if slow and size > 20_000 else rounds)
    return out


def _delete_and_restore(collection: Any, n: int) -> None:
    collection.delete_one({"_id": order_id(n)})
    collection.insert_one({**SIXTEEN_FIELDS, "_id": order_id(n), "account_id": f"acc_{n}", "n": n})


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def disk_mib(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


def lost_increments(client: MongoClient[dict[str, Any]], threads: int = 8, each: int = 200) -> int:
    collection = client.bench_races.counter
    collection.delete_many({})
    collection.insert_one({"_id": "c", "n": 0})

    def work() -> None:
        for _ in range(each):
            collection.update_one({"_id": "c"}, {"$inc": {"n": 1}})

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    final = (collection.find_one({"_id": "c"}) or {}).get("n", 0)
    return threads * each - int(final)


def double_claims(client: MongoClient[dict[str, Any]], documents: int = 300, threads: int = 3) -> int:
    collection = client.bench_races.jobs
    collection.delete_many({})
    collection.insert_many([{"_id": f"job_{n:04d}", "owner": None} for n in range(documents)])
    claims: list[str] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        while True:
            doc = collection.find_one_and_update({"owner": None}, {"$set": {"owner": name}})
            if doc is None:
                return
            with lock:
                claims.append(doc["_id"])

    workers = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return len(claims) - len(set(claims))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,20000,100000")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--binary", default=str(ROOT / "var" / "bin" / "lethe-ferretdb"))
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))

    with tempfile.TemporaryDirectory(prefix="bench-store-", dir=ROOT / "var") as tmp:
        folder = Path(tmp)
        store = private_store(folder)
        store.argv[0] = args.binary
        store.start()
        assert store.popen is not None
        client: MongoClient[dict[str, Any]] = MongoClient(f"mongodb://127.0.0.1:{store.port}/")
        try:
            collection = client.bench_store.orders
            collection.create_index([("account_id", ASCENDING)])
            print(f"store: {args.binary}")
            filled = 0
            for size in sizes:
                started = time.perf_counter()
                fill(collection, filled, size)
                load_s = time.perf_counter() - started
                filled = size
                print(f"\n{size:,} orders of 16 fields (loaded {size - 0:,} in {load_s:.1f} s so far)")
                for name, (p50, p95) in measure(collection, size, args.rounds).items():
                    print(f"  {name:<44} p50={p50:8.2f} ms  p95={p95:8.2f} ms")
                print(
                    f"  store memory (RSS) {rss_mib(store.popen.pid):8.1f} MiB   "
                    f"data on disk {disk_mib(folder / 'data'):8.1f} MiB"
                )
            print("\nraces (no code of Lethe's may rely on these being atomic here):")
            print(f"  8 threads x 200 $inc of one document: {lost_increments(client)} of 1600 lost")
            print(
                f"  300 documents, 3 threads claiming with find_one_and_update: "
                f"{double_claims(client)} claimed twice"
            )
        finally:
            client.close()
            store.kill()


if __name__ == "__main__":
    main()
