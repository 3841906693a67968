"""Keyset pages by ``_id``: each page costs its own size, however large the collection.

A page is the next ``limit`` documents after a cursor (the last ``_id`` of the previous
page) within a key range, in ``_id`` order or its reverse. The store serves that as one
index range with a limit. Skipping by count is never offered: it reads what it skips.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING, DESCENDING

from lethe_common.errors import InvalidArgument
from lethe_common.mongo import Coll, Document

MAX_PAGE = 200
DEFAULT_PAGE = 50
_CURSOR_RE = re.compile(r"[A-Za-z0-9_-]*")


def page_size(requested: int) -> int:
    """The page size a client asked for (a list RPC's ``page_size``): 0 is the default,
    at most MAX_PAGE; a negative one is refused."""
    if requested < 0:
        raise InvalidArgument(f"page_size must be between 1 and {MAX_PAGE}")
    return min(requested or DEFAULT_PAGE, MAX_PAGE)


@dataclass(frozen=True)
class Page:
    """Documents of one page and the cursor of the next one ("" when this was the last)."""

    items: list[Document]
    next_cursor: str


def page(
    collection: Coll,
    id_range: dict[str, Any],
    *,
    after: str = "",
    limit: int = 50,
    descending: bool = False,
    projection: dict[str, Any] | None = None,
) -> Page:
    """The ``limit`` documents after ``after`` in ``id_range`` (from :func:`keys.under`)."""
    limit = max(1, min(limit, MAX_PAGE))
    condition = dict(id_range)
    if after:
        bound = "$lt" if descending else "$gt"
        current = condition.get(bound)
        inside = current is None or (after < current if bound == "$lt" else after > current)
        if inside:
            condition[bound] = after
            condition.pop("$lte" if descending else "$gte", None)
    docs = list(
        collection.find(
            {"_id": condition},
            projection=projection,
            sort=[("_id", DESCENDING if descending else ASCENDING)],
            limit=limit + 1,
        )
    )
    more = len(docs) > limit
    docs = docs[:limit]
    return Page(docs, str(docs[-1]["_id"]) if more and docs else "")


def scan(
    collection: Coll, id_range: dict[str, Any], *, batch: int = 200, projection: dict[str, Any] | None = None
) -> Iterator[Document]:
    """Every document in ``id_range``, one page at a time (sweeps, erasure)."""
    cursor = ""
    while True:
        current = page(collection, id_range, after=cursor, limit=batch, projection=projection)
        yield from current.items
        if not current.next_cursor:
            return
        cursor = current.next_cursor


def filtered_page(
    fetch: Callable[[str, int], Page],
    keep: Callable[[Document], bool],
    *,
    after: str = "",
    limit: int = 50,
    max_reads: int = 10,
) -> Page:
    """A page of the documents ``keep`` accepts, reading at most ``max_reads`` pages of the
    range: a filter the key cannot express costs at most that much per page shown."""
    kept: list[Document] = []
    cursor = after
    for _ in range(max_reads):
        current = fetch(cursor, limit)
        for doc in current.items:
            if keep(doc):
                kept.append(doc)
            if len(kept) == limit:
                more = doc is not current.items[-1] or bool(current.next_cursor)
                return Page(kept, str(doc["_id"]) if more else "")
        cursor = current.next_cursor
        if not cursor:
            return Page(kept, "")
    return Page(kept, cursor)


MAX_CURSOR = 400


def encode_cursor(doc_id: str) -> str:
    """The page token a client gets: opaque (base64url), so nobody builds one by hand."""
    return base64.urlsafe_b64encode(doc_id.encode()).decode().rstrip("=") if doc_id else ""


def decode_cursor(token: str) -> str:
    """The ``_id`` a page token names; InvalidArgument for anything we did not hand out."""
    if not token:
        return ""
    if len(token) > MAX_CURSOR or not _CURSOR_RE.fullmatch(token):
        raise InvalidArgument("page_token is not a token this service handed out")
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("page_token is not a token this service handed out") from None
