"""The fan-out protocol's shared parts (SPEC section 4): requests in, receipts out.

Every data-holding service handles ``privacy.erasure_requested`` and
``privacy.restriction_changed`` and answers with a ``privacy.receipt``. The
parsing of those events and the sending of receipts live here once, so every
service checks the bus the same way and no service sends a receipt twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from lethe_common.events.consumer import Subscription
from lethe_common.events.envelope import Envelope, EnvelopeError
from lethe_common.events.outbox import Outbox
from lethe_common.mongo import Db, RetiredIndex
from lethe_common.subject import Subject
from lethe_common.traces import FINGERPRINT

REQUEST_ID = re.compile(r"pr_[0-9a-f]{32}")
RECEIPT_KINDS = ("erasure", "restriction", "restriction_lift")
OUTCOMES = ("done", "deferred")
MAX_ITEMS = 50
MAX_ITEM_LENGTH = 300
# The collection in which each service keeps the receipts it sent (and their outbox).
RECEIPTS_SENT = "privacy_receipts_sent"


@dataclass(frozen=True)
class PrivacyEvent:
    """An erasure or restriction request as a service receives it from the bus.

    ``occurred_at`` is when consent published it: a restriction and its lift are ordered by
    it, never by when a worker happened to handle them (a retry, another replica)."""

    kind: str
    request_id: str
    subject: Subject
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC), compare=False)

    @classmethod
    def from_envelope(cls, envelope: Envelope) -> PrivacyEvent:
        """Check what the bus brought before acting on it; raise EnvelopeError if it is wrong."""
        payload = envelope.payload
        if envelope.type == "privacy.erasure_requested":
            kind = "erasure"
        elif envelope.type == "privacy.restriction_changed":
            kind = "restriction" if payload.get("restricted") is True else "restriction_lift"
        else:
            raise EnvelopeError(f"{envelope.type!r} is no privacy request")
        return cls.checked(
            kind,
            payload.get("request_id"),
            account_id=payload.get("account_id"),
            subject_key=envelope.subject_key,
            occurred_at=envelope.occurred_at,
            former_keys=payload.get("former_subject_keys", []),
        )

    @classmethod
    def checked(
        cls,
        kind: str,
        request_id: Any,
        *,
        account_id: Any,
        subject_key: Any,
        occurred_at: datetime | None = None,
        former_keys: Any = (),
    ) -> PrivacyEvent:
        """Raise EnvelopeError unless the ids have the shapes our services give them (the
        subject key is required, the account id may be empty, former keys are optional)."""
        if not isinstance(request_id, str) or not REQUEST_ID.fullmatch(request_id):
            raise EnvelopeError("request_id is not a privacy request id")
        subject = Subject.checked(account_id=account_id, subject_key=subject_key, error=EnvelopeError)
        subject = subject.with_former_keys(Subject.checked_keys(former_keys, error=EnvelopeError))
        return cls(kind, request_id, subject, occurred_at or datetime.now(UTC))


def privacy_subscriptions(
    erase: Callable[[PrivacyEvent], Any], restrict: Callable[[PrivacyEvent], Any]
) -> list[Subscription]:
    """A service's consumers of consent's erasure and restriction events, checked first."""

    def handle(event: Envelope) -> None:
        request = PrivacyEvent.from_envelope(event)
        (erase if request.kind == "erasure" else restrict)(request)

    return [
        Subscription("consent", "privacy.erasure_requested", handle),
        Subscription("consent", "privacy.restriction_changed", handle),
    ]


def _texts(value: Any, field: str) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or len(value) > MAX_ITEMS
        or not all(isinstance(item, str) and 0 < len(item) <= MAX_ITEM_LENGTH for item in value)
    ):
        raise EnvelopeError(f"{field} must be a list of at most {MAX_ITEMS} short texts")
    return tuple(value)


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_ITEM_LENGTH:
        raise EnvelopeError(f"{field} must be a short text")
    return value


@dataclass(frozen=True)
class Retained:
    """A collection a receipt declares kept, and until when: a date (``2034-12-31``) or
    the event that ends it (``until the open orders are fulfilled``)."""

    collection: str
    until: str

    def payload(self) -> dict[str, str]:
        return {"collection": self.collection, "until": self.until}


def _retained(value: Any) -> tuple[Retained, ...]:
    """A receipt's ``retained`` list (absent in receipts sent before issue 14: none)."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise EnvelopeError(f"retained must be a list of at most {MAX_ITEMS} places")
    places = []
    for item in value:
        if not isinstance(item, dict):
            raise EnvelopeError("each retained place must be an object")
        collection, until = _text(item.get("collection"), "collection"), _text(item.get("until"), "until")
        if not collection or not until:
            raise EnvelopeError("each retained place needs a collection and an end")
        places.append(Retained(collection, until))
    return tuple(places)


def _fingerprints(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise EnvelopeError(f"fingerprints must be a list of at most {MAX_ITEMS}")
    if not all(isinstance(item, str) and FINGERPRINT.fullmatch(item) for item in value):
        raise EnvelopeError("a fingerprint has the wrong shape")
    return tuple(value)


@dataclass(frozen=True)
class Receipt:
    """What one service did for one request (SPEC section 4, step 3).

    ``deferred`` says the service cannot finish yet (an open order: Art.
    17(3)(b)) and will send a ``done`` receipt once it can.
    """

    request_id: str
    kind: str
    outcome: str = "done"
    deleted: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()
    blocked_until: str = ""
    kept: tuple[str, ...] = ()
    note: str = ""
    # What the proof of erasure may find and is allowed to (issue 14), and keyed hashes of
    # the names and phone numbers the service deleted, for it to look for.
    retained: tuple[Retained, ...] = ()
    fingerprints: tuple[str, ...] = ()

    def payload(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "kind": self.kind,
            "outcome": self.outcome,
            "deleted": list(self.deleted),
            "blocked": list(self.blocked),
            "blocked_until": self.blocked_until,
            "kept": list(self.kept),
            "note": self.note,
            "retained": [r.payload() for r in self.retained],
            "fingerprints": list(self.fingerprints),
        }

    @classmethod
    def from_envelope(cls, envelope: Envelope) -> Receipt:
        p = envelope.payload
        receipt = cls(
            request_id=_text(p.get("request_id"), "request_id"),
            kind=_text(p.get("kind"), "kind"),
            outcome=_text(p.get("outcome"), "outcome"),
            deleted=_texts(p.get("deleted"), "deleted"),
            blocked=_texts(p.get("blocked"), "blocked"),
            blocked_until=_text(p.get("blocked_until"), "blocked_until"),
            kept=_texts(p.get("kept"), "kept"),
            note=_text(p.get("note"), "note"),
            retained=_retained(p.get("retained")),
            fingerprints=_fingerprints(p.get("fingerprints")),
        )
        if not REQUEST_ID.fullmatch(receipt.request_id):
            raise EnvelopeError("request_id is not a privacy request id")
        if receipt.kind not in RECEIPT_KINDS or receipt.outcome not in OUTCOMES:
            raise EnvelopeError("unknown receipt kind or outcome")
        return receipt


UNTIL_LIFTED = "until the person lifts the restriction"


@dataclass(frozen=True)
class RestrictionWording:
    """What one service's restriction receipts say. ``restricted`` is the note of a
    restriction, with ``{count}`` for what is held; ``none_held``, if given, is the whole
    note when nothing is held (otherwise the count is reported, even 0)."""

    blocked: tuple[str, ...]
    restricted: str
    lifted: str
    none_held: str = ""


def restriction_receipt(request: PrivacyEvent, held: int, wording: RestrictionWording) -> Receipt:
    """The receipt of a restriction or its lift, in the service's own words: one shape for
    every service, so staff and the person read the same kind of answer everywhere."""
    if not held and wording.none_held:
        return Receipt(request_id=request.request_id, kind=request.kind, note=wording.none_held)
    if request.kind == "restriction":
        return Receipt(
            request_id=request.request_id,
            kind=request.kind,
            blocked=wording.blocked,
            blocked_until=UNTIL_LIFTED,
            note=wording.restricted.format(count=held),
        )
    return Receipt(request_id=request.request_id, kind=request.kind, note=wording.lifted)


class ReceiptSender:
    """Sends each (request, outcome) receipt once, through the outbox.

    The receipt and its event are one new document whose key is the request,
    kind and outcome: handling the same request twice inserts nothing the
    second time, so no second receipt goes out.
    """

    def __init__(self, db: Db, outbox: Outbox, service: str) -> None:
        self._collection = db[RECEIPTS_SENT]
        self._outbox = outbox
        self._service = service

    def send(self, receipt: Receipt, subject_key: str) -> bool:
        """Stage and publish ``receipt``; False when it had been sent before."""
        event = Envelope(
            type="privacy.receipt", source=self._service, subject_key=subject_key, payload=receipt.payload()
        )
        key = f"{receipt.request_id}/{receipt.kind}/{receipt.outcome}"
        try:
            self._outbox.insert(
                self._collection,
                {"_id": key, "sent_at": datetime.now(UTC), "receipt": receipt.payload()},
                event,
            )
        except DuplicateKeyError:
            return False
        return True


RECEIPT_INDEXES = [RetiredIndex(RECEIPTS_SENT, "_outbox_due_1")]
