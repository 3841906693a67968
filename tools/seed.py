"""Preload people into Lethe's stores, for benchmarks at scale (never on a real system).

    env $(.venv/bin/python tools/stack.py env) .venv/bin/python tools/seed.py --people 1000
    env $(.venv/bin/python tools/stack.py env) .venv/bin/python tools/seed.py --people 2000 --from 1000

into the stores of a running ``make up`` (whose consent service has published its texts;
``bench/bench_scale.py`` seeds its own stack the same way).

Person n (0, 1, ...) is ``person-<n>@seed.example``, account ``acc_<md5 of n>``, all with one
password. Each is what the services hold after registration, verification, a confirmed
newsletter subscription and a completed order of a download: a verified account (identity),
its account consent (consent), an active subscription (newsletter), a completed, blocked
order with its download right (shop). Every 20th person also has a closed erasure-shaped
privacy request in the ledger and every 100th an open access request, so staff lists have
pages to show. The documents are written in bulk by each service's own ``seeding`` module,
which builds them with the service's domain code (and is tested against it); no event is
published and no mail sent. ``--from`` continues an earlier seeding. The databases are the
services' (``<SERVICE>_MONGO_DB``; the dev stack's are ``<stack>_<service>``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database

from lethe_common.subject import Subject, subject_key
from lethe_consent import seeding as consent_seeding
from lethe_identity import seeding as identity_seeding
from lethe_identity.config import Argon2Settings
from lethe_identity.passwords import Passwords
from lethe_newsletter import seeding as newsletter_seeding
from lethe_shop import seeding as shop_seeding
from lethe_shop.repo_catalogue import CatalogueStore

SERVICES = ("identity", "consent", "shop", "newsletter")
CHUNK = 5000
CLOSED_REQUEST_EVERY, OPEN_REQUEST_EVERY = 20, 100


@dataclass(frozen=True)
class SeededPerson:
    n: int
    email: str
    account_id: str


def person(n: int) -> SeededPerson:
    return SeededPerson(
        n,
        f"person-{n}@seed.example",
        "acc_" + hashlib.md5(f"seed-{n}".encode(), usedforsecurity=False).hexdigest(),
    )


def people(start: int, stop: int) -> list[SeededPerson]:
    return [person(n) for n in range(start, stop)]


def password_hash(password: str, settings: Argon2Settings | None = None) -> str:
    """One argon2id hash for everyone (argon2 is slow on purpose), at identity's settings."""
    return Passwords(
        settings
        or Argon2Settings(
            time_cost=int(os.environ.get("IDENTITY_ARGON2_TIME_COST", "5")),
            memory_kib=int(os.environ.get("IDENTITY_ARGON2_MEMORY_KIB", "19456")),
            parallelism=int(os.environ.get("IDENTITY_ARGON2_PARALLELISM", "1")),
        )
    ).hash(password)


def databases(env: Mapping[str, str] = os.environ) -> dict[str, str]:
    return {name: env.get(f"{name.upper()}_MONGO_DB", f"lethe_{name}") for name in SERVICES}


def databases_of(stack: Any) -> dict[str, str]:
    """The databases of a test or benchmark stack (``lethe_testing.Stack``)."""
    return {name: backend.db_name for name, backend in stack.backends.items()}


def download_product(db: Database[dict[str, Any]]) -> dict[str, Any]:
    """An active download product of the shop's catalogue (the API seeds the demo one)."""
    for product in CatalogueStore(db).all():
        if product.get("kind") == "download" and product.get("active"):
            return product
    raise SystemExit("the shop has no active download product: start its API once first")


def demo_download_product(client: MongoClient[dict[str, Any]], stack: Any) -> str:
    return str(download_product(client[databases_of(stack)["shop"]])["_id"])


def json_text(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def seed_chunk(
    client: MongoClient[dict[str, Any]],
    dbs: Mapping[str, str],
    pepper: str,
    chunk: list[SeededPerson],
    hashed: str,
    at: datetime,
) -> None:
    keys = [subject_key(pepper, p.email) for p in chunk]
    identity = client[dbs["identity"]]
    batches: dict[str, list[dict[str, Any]]] = {}
    for p in chunk:
        for collection, docs in identity_seeding.account_docs(
            pepper, identity_seeding.Person(p.email, name=f"Person {p.n}"), p.account_id, hashed, at
        ).items():
            batches.setdefault(collection, []).extend(docs)
    for collection in identity_seeding.WRITE_ORDER:
        identity[collection].insert_many(batches.get(collection, []), ordered=False)

    consent = client[dbs["consent"]]
    people = [(p, Subject(account_id=p.account_id, subject_key=k)) for p, k in zip(chunk, keys, strict=True)]
    consent_seeding.seed_account_consents(consent, [subject for _, subject in people], at)
    consent_seeding.seed_completed_erasures(
        consent, [subject for p, subject in people if p.n % CLOSED_REQUEST_EVERY == 0], at
    )
    consent_seeding.seed_open_requests(
        consent, [subject for p, subject in people if p.n % OPEN_REQUEST_EVERY == 0], at
    )

    newsletter_seeding.seed_active(
        client[dbs["newsletter"]],
        pepper,
        [newsletter_seeding.Reader(p.email, account_id=p.account_id) for p in chunk],
        at,
    )

    shop = client[dbs["shop"]]
    shop_seeding.seed_completed_orders(
        shop,
        [shop_seeding.Buyer(subject, p.email, name=f"Person {p.n}") for p, subject in people],
        download_product(shop),
        at,
    )


def seed(
    client: MongoClient[dict[str, Any]],
    dbs: Mapping[str, str],
    pepper: str,
    start: int,
    stop: int,
    hashed: str,
    at: datetime | None = None,
    progress: bool = False,
) -> None:
    """Seed persons ``start`` to ``stop - 1``."""
    at = at or datetime.now(UTC)
    for first in range(start, stop, CHUNK):
        seed_chunk(client, dbs, pepper, people(first, min(stop, first + CHUNK)), hashed, at)
        if progress:
            print(f"  {min(stop, first + CHUNK):,} people", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--people", type=int, required=True, help="seed up to this many people")
    parser.add_argument("--from", dest="start", type=int, default=0, help="the first person to seed")
    parser.add_argument(
        "--password",
        default="seeded passphrase 2026",
        help="everyone's password (to log in as person-<n>@seed.example)",
    )
    args = parser.parse_args()
    url, pepper = os.environ.get("LETHE_MONGO_URL"), os.environ.get("LETHE_SUBJECT_PEPPER")
    if not url or not pepper:
        print(
            "LETHE_MONGO_URL and LETHE_SUBJECT_PEPPER are needed: run it with a running "
            "stack's environment, env $(.venv/bin/python tools/stack.py env) ...",
            file=sys.stderr,
        )
        return 2
    client: MongoClient[dict[str, Any]] = MongoClient(url, tz_aware=True)
    started = time.perf_counter()
    seed(client, databases(), pepper, args.start, args.people, password_hash(args.password), progress=True)
    print(f"seeded people {args.start:,} to {args.people - 1:,} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
