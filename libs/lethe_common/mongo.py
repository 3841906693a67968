"""The Mongo client factory, index bootstrap and health check.

Works the same against MongoDB and FerretDB: no multi-document transactions,
no change streams, no TTL indexes (SPEC section 6).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)

Document = dict[str, Any]
Client = MongoClient[Document]
Db = Database[Document]
Coll = Collection[Document]


@dataclass(frozen=True)
class IndexSpec:
    """One index: the collection, its keys in order, and whether it is unique."""

    collection: str
    keys: tuple[tuple[str, int], ...]
    unique: bool = False
    name: str = field(default="")


@dataclass(frozen=True)
class RetiredIndex:
    """An index an earlier version created and no code uses any more. It is dropped at
    start-up: every index costs each insert, and a unique one on fields that new documents
    lack would refuse the second of them."""

    collection: str
    name: str


def connect(url: str, app_name: str, *, timeout_ms: int = 3000) -> Client:
    """A client with UTC-aware datetimes and short time-outs, so health checks answer fast."""
    return MongoClient(
        url,
        appname=app_name,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=max(timeout_ms * 5, 10_000),
    )


def ensure_indexes(db: Db, specs: Sequence[IndexSpec | RetiredIndex]) -> None:
    """Create the indexes a service relies on (creating an existing one is a no-op) and
    drop the retired ones that exist."""
    existing = set(db.list_collection_names())
    for spec in specs:
        if isinstance(spec, RetiredIndex):
            if spec.collection in existing and spec.name in db[spec.collection].index_information():
                db[spec.collection].drop_index(spec.name)
                log.info("retired index dropped", extra={"collection": spec.collection, "index": spec.name})
            continue
        options: dict[str, Any] = {"unique": spec.unique}
        if spec.name:
            options["name"] = spec.name
        db[spec.collection].create_index(list(spec.keys), **options)
    log.info("indexes ensured", extra={"database": db.name, "count": len(specs)})


def ping(client: Client) -> bool:
    """True when the store answers a ping."""
    try:
        client.admin.command("ping")
    except PyMongoError:
        return False
    return True
