"""The diagnostic ping every service implements (``lethe.diagnostics.v1``).

``Ping`` stores a record and its ``system.ping`` event in one document
through the outbox; every worker subscribed to ``system.ping`` notes in its
own store that it saw the event; ``CheckPing`` asks whether it did. It
exercises the whole chain (gRPC, store, outbox, broker, consumers) with no
personal data: an optional e-mail is turned into its subject_key at once.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from lethe_common.errors import InvalidArgument
from lethe_common.events.catalogue import ALL_SERVICES
from lethe_common.events.consumer import Subscription
from lethe_common.events.envelope import Envelope
from lethe_common.events.outbox import Outbox
from lethe_common.mongo import Db, RetiredIndex
from lethe_common.store.keys import under
from lethe_common.subject import subject_key

PINGS = "pings"
PINGS_SEEN = "pings_seen"
NOTE_RE = re.compile(r"^[A-Za-z0-9 ._-]{0,64}$")
# Pings are keyed by the time they were made, and what saw them by the ping: every read
# and the sweep are _id ranges.
INDEXES = [
    RetiredIndex(PINGS, "_outbox_due_1"),
    RetiredIndex(PINGS, "created_at_1"),
    RetiredIndex(PINGS_SEEN, "ping_id_1"),
    RetiredIndex(PINGS_SEEN, "seen_at_1"),
]


def _time_prefix(moment_ns: int) -> str:
    return f"{moment_ns:016x}"


def new_ping_id() -> str:
    """32 hex digits that sort by creation time (nanoseconds, then 64 random bits)."""
    return _time_prefix(time.time_ns()) + secrets.token_hex(8)


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
                "note may hold at most 64 letters, digits, spaces, dots, dashes or underscores"
            )
        key = subject_key(self._pepper, email) if email.strip() else ""
        ping_id = new_ping_id()
        event = Envelope(
            type="system.ping",
            source=self._service,
            subject_key=key,
            payload={"ping_id": ping_id, "note": note},
        )
        published = self._outbox.insert(
            self._db[PINGS],
            {"_id": ping_id, "note": note, "subject_key": key, "created_at": datetime.now(UTC)},
            event,
        )
        return ping_id, published, key

    def record_seen(self, event: Envelope) -> None:
        """Handler of ``system.ping``: idempotent by ping and source."""
        ping_id = str(event.payload["ping_id"])
        if not re.fullmatch(r"[0-9a-f]{32}", ping_id):
            return
        with contextlib.suppress(DuplicateKeyError):
            self._db[PINGS_SEEN].insert_one(
                {"_id": f"{ping_id}/{event.source}", "source": event.source, "seen_at": datetime.now(UTC)}
            )

    def check(self, ping_id: str) -> tuple[bool, str]:
        if not re.fullmatch(r"[0-9a-f]{32}", ping_id):
            raise InvalidArgument("ping_id must be 32 lower-case hex digits")
        seen: dict[str, Any] | None = self._db[PINGS_SEEN].find_one({"_id": under(ping_id)})
        return (seen is not None, seen["source"] if seen else "")

    def sweep(self, max_age: timedelta = timedelta(days=1)) -> int:
        """Delete pings and their traces older than ``max_age`` (two ``_id`` ranges)."""
        cutoff = {"$lt": _time_prefix(time.time_ns() - int(max_age.total_seconds() * 1e9))}
        return sum(self._db[name].delete_many({"_id": cutoff}).deleted_count for name in (PINGS, PINGS_SEEN))

    def subscriptions(self) -> list[Subscription]:
        return [Subscription(source, "system.ping", self.record_seen) for source in ALL_SERVICES]
