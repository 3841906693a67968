"""Reading the expiries queue: every due entry, a batch at a time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from lethe_common.mongo import Document
from lethe_common.store.index import TimeQueue

BATCH = 200


def due_entries(expiries: TimeQueue, queue: str, now: datetime) -> Iterator[Document]:
    """Every entry of ``queue`` due by ``now``. The caller removes each entry once it is
    handled, so the next batch starts after it; an entry it could not remove (a failure)
    ends the run rather than being read again and again."""
    seen: set[str] = set()
    while True:
        batch = [entry for entry in expiries.due(queue, now, limit=BATCH) if entry["_id"] not in seen]
        if not batch:
            return
        seen.update(entry["_id"] for entry in batch)
        yield from batch
        if len(batch) < BATCH:
            return
