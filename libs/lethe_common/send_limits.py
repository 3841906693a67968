"""Limits on the mails a request makes us send: per target address and per client.

A form anyone may use (a privacy request without an account, a newsletter subscription)
makes us mail an address the caller names. Without a limit it is a tool to flood someone's
mailbox from our servers. :class:`MailLimiter` admits a mail only while neither the target
address nor the client has had ``limit`` mails of this kind in the last window; a refused
mail is simply not sent. The caller answers exactly as it does for a sent one, so nothing
outside tells the difference; the refusal is counted (``lethe_mail_sends_refused_total``,
labelled by kind of mail and limit, never by anything personal) and logged without the
address.

**The counter** (:class:`SlidingWindow`) is shared by every replica through the store, in
one collection per service (:data:`SEND_LIMITS`). Each counted mail is one document keyed
``<limiter>/<keyed hash>/<time>/<random>``; "how many in the last window" is one ``_id``
range read. The keyed hash is an HMAC under the service's pepper with a purpose of its own
(``send-limit/<limiter>``), so it is neither the address nor its ``subject_key``, and the
counters of two kinds of mail cannot be matched with each other or with any other key.
Counting never rests on an atomic update: a mail is recorded *first* and then the range is
counted; whoever finds itself over the limit withdraws its own record (a delete). Of
requests racing, each counts every record inserted before its count, so the limit is never
exceeded; a burst may refuse one more than strictly needed, never admit one too many.

**Nothing stays.** Every record is due for deletion when its window ends: before it is
written, an entry ``~due/<time it expires>/<random>`` naming it is inserted into the same
collection (the index before the item), and :meth:`MailLimiter.sweep` (each service's
worker, on its sweep interval) deletes what is due, oldest first, as one ``_id`` range read
and deletes by ``_id``. A withdrawn record's due entry finds nothing and goes too.

Records of a client are keyed by its address as the gateway saw it (IPv6 by its /64
network, which one subscriber line usually has whole). A call without a client address
(one not made through the gateway: tests, internal callers) is limited per address only.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter
from pymongo import ASCENDING

from lethe_common import tokens
from lethe_common.config import Env
from lethe_common.mongo import Coll
from lethe_common.store.keys import key, timekey, under
from lethe_common.store.paging import page
from lethe_common.subject import normalise_email

log = logging.getLogger(__name__)

# The collection every service keeps its send limits in (declare it in its inventory).
SEND_LIMITS = "send_limits"
# The due entries' prefix: no limiter name can be it (names are [a-z0-9-]).
DUE = "~due"
_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")
SWEEP_BATCH = 200

MAILS_REFUSED = Counter(
    "lethe_mail_sends_refused_total",
    "Mails not sent because a send limit was reached, by kind of mail and limit (address, client).",
    ["mail", "limit"],
)
MAILS_ADMITTED = Counter(
    "lethe_mail_sends_admitted_total", "Mails a send limit let through, by kind of mail.", ["mail"]
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Window:
    """At most ``limit`` in any ``seconds``."""

    limit: int
    seconds: int

    def __post_init__(self) -> None:
        if self.limit < 1 or self.seconds < 1:
            raise ValueError("a send limit needs a limit and a window of at least 1")


@dataclass(frozen=True)
class MailLimits:
    """One kind of mail's two limits: per target address and per client."""

    per_address: Window
    per_client: Window

    @classmethod
    def from_env(cls, env: Env, prefix: str) -> MailLimits:
        """``<prefix>_MAILS_PER_ADDRESS`` in ``<prefix>_WINDOW_SECONDS`` (10 a day) and
        ``<prefix>_MAILS_PER_CLIENT`` in ``<prefix>_CLIENT_WINDOW_SECONDS`` (30 an hour)."""
        week = 86400 * 7
        return cls(
            Window(
                env.bounded_int(f"{prefix}_MAILS_PER_ADDRESS", 10, 1, 1000),
                env.bounded_int(f"{prefix}_WINDOW_SECONDS", 86400, 1, week),
            ),
            Window(
                env.bounded_int(f"{prefix}_MAILS_PER_CLIENT", 30, 1, 100_000),
                env.bounded_int(f"{prefix}_CLIENT_WINDOW_SECONDS", 3600, 1, week),
            ),
        )


class SlidingWindow:
    """Counts by key in a sliding window, through the store: ``<name>/<key>/<time>/<random>``."""

    def __init__(self, collection: Coll, name: str, window: Window) -> None:
        if not _NAME.fullmatch(name):
            raise ValueError(f"a limiter name is lower-case letters, digits and dashes: {name!r}")
        self._collection = collection
        self.name = name
        self.window = window
        self._span = timedelta(seconds=window.seconds)

    def record(self, limit_key: str, now: datetime) -> str:
        """Count one under ``limit_key`` at ``now``; its due entry goes in first."""
        random = uuid.uuid4().hex
        entry_id = key(self.name, limit_key, timekey(now), random)
        self._collection.insert_one({"_id": key(DUE, timekey(now + self._span), random), "entry": entry_id})
        self._collection.insert_one({"_id": entry_id})
        return entry_id

    def count(self, limit_key: str, now: datetime, at_most: int = 0) -> int:
        """How many were counted under ``limit_key`` in the window up to ``now`` (one
        range; with ``at_most``, read no more than that)."""
        window = {**under(self.name, limit_key), "$gte": key(self.name, limit_key, timekey(now - self._span))}
        found = self._collection.find(
            {"_id": window}, projection={"_id": 1}, sort=[("_id", ASCENDING)], limit=max(at_most, 0)
        )
        return len(list(found))

    def begin(self, limit_key: str, now: datetime) -> str | None:
        """Record one, then count: its id when within the limit, else None (withdrawn)."""
        entry_id = self.record(limit_key, now)
        if self.count(limit_key, now, at_most=self.window.limit + 1) <= self.window.limit:
            return entry_id
        self.forget(entry_id)
        return None

    def forget(self, entry_id: str) -> bool:
        return bool(self._collection.delete_one({"_id": entry_id}).deleted_count)


def client_network(client_address: str) -> str:
    """What a client is counted as: its IPv4 address, its IPv6 /64; "" when not an address."""
    try:
        parsed = ipaddress.ip_address(client_address.strip())
    except ValueError:
        return ""
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


class MailLimiter:
    """One kind of mail (``mail``), limited per target address and per client."""

    def __init__(
        self,
        collection: Coll,
        pepper: str,
        mail: str,
        per_address: Window,
        per_client: Window,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if not pepper:
            raise ValueError("a send limit needs the service's pepper")
        self._collection = collection
        self._pepper = pepper
        self.mail = mail
        self._address = SlidingWindow(collection, f"{mail}-address", per_address)
        self._client = SlidingWindow(collection, f"{mail}-client", per_client)
        self._clock = clock

    def address_key(self, address: str) -> str:
        return tokens.keyed(self._pepper, f"send-limit/{self._address.name}", normalise_email(address))

    def client_key(self, client_address: str) -> str:
        network = client_network(client_address)
        return tokens.keyed(self._pepper, f"send-limit/{self._client.name}", network) if network else ""

    def admit(self, address: str, client_address: str = "", now: datetime | None = None) -> bool:
        """Whether a mail of this kind may go to ``address`` on a request from
        ``client_address``; an admitted mail counts against both limits, a refused one
        against neither."""
        now = now or self._clock()
        client_key = self.client_key(client_address)
        client_entry = ""
        if client_key:
            client_entry = self._client.begin(client_key, now) or ""
            if not client_entry:
                return self._refused("client")
        if self._address.begin(self.address_key(address), now) is None:
            if client_entry:
                self._client.forget(client_entry)
            return self._refused("address")
        MAILS_ADMITTED.labels(mail=self.mail).inc()
        return True

    def _refused(self, limit: str) -> bool:
        MAILS_REFUSED.labels(mail=self.mail, limit=limit).inc()
        log.info("mail not sent: send limit reached", extra={"mail": self.mail, "limit": limit})
        return False

    def sweep(self, now: datetime | None = None, max_batches: int = 50) -> int:
        """Delete the records whose window has ended (and their due entries); how many."""
        return sweep_send_limits(self._collection, now or self._clock(), max_batches)


def sweep_send_limits(collection: Coll, now: datetime, max_batches: int = 50) -> int:
    """Delete every record of ``collection`` whose window ended by ``now``: the due entries
    are one range, oldest first; the records and then the entries go by ``_id``."""
    deleted = 0
    due = {**under(DUE), "$lt": key(DUE, timekey(now)) + "0"}
    for _ in range(max_batches):
        entries = page(collection, due, limit=SWEEP_BATCH).items
        if not entries:
            break
        records = [str(e["entry"]) for e in entries if e.get("entry")]
        if records:
            deleted += int(collection.delete_many({"_id": {"$in": records}}).deleted_count)
        collection.delete_many({"_id": {"$in": [e["_id"] for e in entries]}})
    return deleted
