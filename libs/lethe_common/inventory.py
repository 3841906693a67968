"""A service's data inventory: every collection it keeps, and for each the fields that can
hold personal data, their categories, the purpose, the lawful basis, how long they are kept
and to whom they are passed (issue 14).

Each service declares its :class:`Inventory` in one place (``lethe_<service>.inventory``);
the export, the privacy notice and the verifier are meant to read it from there, so they
cannot drift apart. Tests fail when a service writes a collection its inventory does not
declare (``services/*/tests/test_*_inventory*.py``).

The library's own collections, which every service's store has (the outbox and its leases,
handled event ids, sent privacy receipts, diagnostic pings), are declared once here as
:data:`LIBRARY_HOLDINGS`; every service's inventory includes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lethe_common.diagnostics import PINGS, PINGS_SEEN
from lethe_common.events.consumer import PROCESSED_COLLECTION
from lethe_common.events.outbox import LEASES, OUTBOX, POISON
from lethe_common.privacy import RECEIPTS_SENT

# Lawful bases (GDPR Art. 6(1), with Art. 7(1) for the proof of consent).
CONSENT = "consent (Art. 6(1)(a) GDPR)"
CONTRACT = "contract (Art. 6(1)(b) GDPR)"
LEGAL_OBLIGATION = "legal obligation (Art. 6(1)(c) GDPR)"
LEGITIMATE_INTEREST = "legitimate interest (Art. 6(1)(f) GDPR)"

# Categories of personal data.
IDENTIFIER = "identifier"  # account id, subject_key (a keyed hash of the e-mail address)
CONTACT = "contact"  # e-mail address, phone number, name
ADDRESS = "address"  # postal billing or delivery address
CREDENTIALS = "credentials"  # password hash, digests of links and session tokens
PAYMENT_REFERENCE = "payment reference"  # the provider's charge id, never card or bank data
PURCHASE = "purchase history"  # orders, items, download rights and their use
COMMUNICATION = "communication"  # what a person wrote, and the answers
CONSENT_RECORD = "consent record"  # what a person agreed to or withdrew, and when
PRIVACY_REQUEST = "privacy request"  # a person's requests under the GDPR and their state
NETWORK = "network data"  # client addresses (truncated)
USAGE = "usage"  # log-ins, sessions, sends: when a person did what

# Recipients.
MESSAGE_BUS = "the other Lethe services, through the message bus (ids and subject_key only)"


@dataclass(frozen=True)
class Holding:
    """One collection of a service's store.

    ``fields`` are the dotted paths of the fields that can hold personal data (``_id`` where
    the key itself names a person); ``()`` declares a collection that holds none. A
    ``retired`` collection belongs to an earlier layout: no code writes it any more, but an
    old database may still hold it."""

    collection: str
    fields: tuple[str, ...]
    categories: tuple[str, ...]
    purpose: str
    lawful_basis: str
    retention: str
    recipients: tuple[str, ...] = ()
    retired: bool = False

    @property
    def personal(self) -> bool:
        return bool(self.fields)

    def problems(self) -> list[str]:
        """What is missing from this declaration (empty when it is complete)."""
        found = [
            f"{self.collection}: no {name}"
            for name, value in (
                ("collection name", self.collection),
                ("purpose", self.purpose),
                ("lawful basis", self.lawful_basis),
                ("retention", self.retention),
            )
            if not value.strip()
        ]
        if self.fields and not self.categories:
            found.append(f"{self.collection}: personal fields without a category")
        if not self.fields and self.categories:
            found.append(f"{self.collection}: categories but no personal fields")
        if len(set(self.fields)) != len(self.fields):
            found.append(f"{self.collection}: a field is declared twice")
        return found


@dataclass(frozen=True)
class Inventory:
    """Every collection of one service, each declared once."""

    service: str
    holdings: tuple[Holding, ...]

    def __post_init__(self) -> None:
        names = [h.collection for h in self.holdings]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"{self.service}: collections declared twice: {', '.join(twice)}")

    def collections(self) -> frozenset[str]:
        return frozenset(h.collection for h in self.holdings)

    def declares(self, collection: str) -> bool:
        return collection in self.collections()

    def holding(self, collection: str) -> Holding:
        """The declaration of ``collection``; KeyError when there is none."""
        for holding in self.holdings:
            if holding.collection == collection:
                return holding
        raise KeyError(f"{self.service} declares no collection {collection!r}")

    def personal(self) -> tuple[Holding, ...]:
        """The holdings that can hold personal data."""
        return tuple(h for h in self.holdings if h.personal)

    def recipients(self) -> tuple[str, ...]:
        """Everyone the service passes personal data to, each once, in declaration order."""
        return tuple(dict.fromkeys(r for h in self.personal() for r in h.recipients))

    def undeclared(self, collections: Iterable[str]) -> list[str]:
        """The names in ``collections`` the inventory does not declare (``system.*`` aside)."""
        return sorted({c for c in collections if not c.startswith("system.") and not self.declares(c)})

    def problems(self) -> list[str]:
        """Every incomplete declaration (empty when the inventory is complete)."""
        return [p for h in self.holdings for p in h.problems()]


LIBRARY_HOLDINGS: tuple[Holding, ...] = (
    Holding(
        OUTBOX,
        ("event.subject_key", "event.payload"),
        (IDENTIFIER,),
        "deliver each event a change announces at least once (the outbox)",
        "the basis of the change the event announces",
        "until the event is published: seconds; an intent whose change never happened is "
        "dropped after the abandon period",
        (MESSAGE_BUS,),
    ),
    Holding(
        POISON,
        ("event.subject_key", "event.payload"),
        (IDENTIFIER,),
        "set aside an outbox intent that cannot be read, for an operator to look at",
        LEGITIMATE_INTEREST,
        "until an operator deletes it (expected empty)",
    ),
    Holding(
        LEASES,
        (),
        (),
        "one relay replica claims each waiting event",
        "none needed: no personal data",
        "a day (the relay's hourly sweep)",
    ),
    Holding(
        PROCESSED_COLLECTION,
        (),
        (),
        "drop an event delivered twice (event ids only)",
        "none needed: no personal data",
        "LETHE_PROCESSED_RETENTION_DAYS (30 days by default)",
    ),
    Holding(
        RECEIPTS_SENT,
        ("receipt.request_id", "receipt.deleted", "receipt.blocked", "receipt.note"),
        (PRIVACY_REQUEST,),
        "send each privacy receipt once, as proof that the service handled the request",
        LEGAL_OBLIGATION + ": Art. 5(2), 12 and 17 GDPR (accountability)",
        "until the request it answers is deleted by consent's proof retention",
        (MESSAGE_BUS,),
    ),
    Holding(
        PINGS,
        ("subject_key",),
        (IDENTIFIER,),
        "diagnostics: prove the chain from gRPC to every worker works",
        LEGITIMATE_INTEREST + ": stability of the service",
        "a day (the diagnostics sweep)",
        (MESSAGE_BUS,),
    ),
    Holding(
        PINGS_SEEN,
        (),
        (),
        "diagnostics: which worker saw a ping",
        "none needed: no personal data",
        "a day (the diagnostics sweep)",
    ),
)
