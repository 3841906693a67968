"""The Mongo client factory, index bootstrap and health check.

Works the same against MongoDB and FerretDB: no multi-document transactions,
no change streams, no TTL indexes (SPEC section 6).
"""

from __future__ import annotations

import logging
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


def connect(url: str, app_name: str, *, timeout_ms: int = 3000) -> Client:
    """A client with UTC-aware datetimes and short time-outs, so health checks answer fast."""
    return MongoClient(
        url, appname=app_name, tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms,
        socketTimeoutMS=max(timeout_ms * 5, 10_000),
    )


def ensure_indexes(db: Db, specs: list[IndexSpec]) -> None:
    """Create the indexes a service relies on; creating an existing one is a no-op."""
    for spec in specs:
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
