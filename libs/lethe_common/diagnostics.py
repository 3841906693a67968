"""The diagnostic ping every service implements (``lethe.diagnostics.v1``).

``Ping`` stores a record and its ``system.ping`` event in one document
through the outbox; every worker subscribed to ``system.ping`` notes in its
own store that it saw the event; ``CheckPing`` asks whether it did. It
exercises the whole chain (gRPC, store, outbox, broker, consumers) with no
personal data: an optional e-mail is turned into its subject_key at once.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from lethe_common.errors import InvalidArgument
from lethe_common.events.catalogue import ALL_SERVICES
from lethe_common.events.consumer import Subscription
from lethe_common.events.envelope import Envelope
from lethe_common.events.outbox import Outbox, outbox_index
from lethe_common.mongo import Db, IndexSpec
from lethe_common.subject import subject_key

PINGS = "pings"
PINGS_SEEN = "pings_seen"
NOTE_RE = re.compile(r"^[A-Za-z0-9 ._-]{0,64}$")
INDEXES = [outbox_index(PINGS), IndexSpec(PINGS, (("created_at", 1),)),
           IndexSpec(PINGS_SEEN, (("ping_id", 1),)), IndexSpec(PINGS_SEEN, (("seen_at", 1),))]


class Diagnostics:
    """Ping, check and sweep for one service's store."""

    def __init__(self, service: str, db: Db, outbox: Outbox, pepper: str) -> None:
        self._service = service
        self._db = db
        self._outbox = outbox
        self._pepper = pepper

    def ping(self, note: str, email: str = "") -> tuple[str, bool, str]:
        """Store a ping with its event; publish it now. Returns (id, published, subject_key)."""
        if not NOTE_RE.match(note):
            raise InvalidArgument(
                "note may hold at most 64 letters, digits, spaces, dots, dashes or underscores")
        key = subject_key(self._pepper, email) if email.strip() else ""
        ping_id = uuid.uuid4().hex
        event = Envelope(type="system.ping", source=self._service, subject_key=key,
                         payload={"ping_id": ping_id, "note": note})
        pings = self._db[PINGS]
        pings.insert_one(self._outbox.stage_new(
            {"_id": ping_id, "note": note, "subject_key": key,
             "created_at": datetime.now(UTC)}, event))
        published = self._outbox.publish_staged(pings, ping_id, event)
        return ping_id, published, key

    def record_seen(self, event: Envelope) -> None:
        """Handler of ``system.ping``: idempotent by event id."""
        self._db[PINGS_SEEN].update_one(
            {"_id": event.id},
            {"$setOnInsert": {"ping_id": event.payload["ping_id"], "source": event.source,
                              "seen_at": datetime.now(UTC)}},
            upsert=True)

    def check(self, ping_id: str) -> tuple[bool, str]:
        if not re.fullmatch(r"[0-9a-f]{32}", ping_id):
            raise InvalidArgument("ping_id must be 32 lower-case hex digits")
        seen: dict[str, Any] | None = self._db[PINGS_SEEN].find_one({"ping_id": ping_id})
        return (seen is not None, seen["source"] if seen else "")

    def sweep(self, max_age: timedelta = timedelta(days=1)) -> int:
        """Delete pings and their traces older than ``max_age``."""
        cutoff = datetime.now(UTC) - max_age
        deleted = self._db[PINGS].delete_many(
            {"created_at": {"$lt": cutoff}, "_outbox_due": {"$exists": False}}).deleted_count
        return deleted + self._db[PINGS_SEEN].delete_many({"seen_at": {"$lt": cutoff}}).deleted_count

    def subscriptions(self) -> list[Subscription]:
        return [Subscription(source, "system.ping", self.record_seen) for source in ALL_SERVICES]
