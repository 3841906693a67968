"""What the consent domain hands out: plain views of stored documents."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lethe_common.mongo import Document

LANGUAGES = ("de", "en")
CONSENT_BASIS = "consent"

# A privacy request's life. Its status only moves to a higher rank, so a late
# writer cannot move a request back (a stale "in progress" after "complete").
STATUS_RANK = {
    "awaiting_confirmation": 0,
    "open": 1,
    "in_progress": 2,
    "deferred": 3,
    "complete": 4,
    "rejected": 4,
}
ACTIVE_STATUSES = ("open", "in_progress")
# Statuses in which the person and staff see a request (an unconfirmed one is not shown).
LISTED_STATUSES = ("open", "in_progress", "deferred", "complete", "rejected")
CLOSED_STATUSES = ("complete", "rejected")
# An unconfirmed request whose link expired: the sweep's last step before it deletes it.
EXPIRED = "expired"
AWAITING = "awaiting_confirmation"
FAN_OUT_KINDS = ("erasure", "restriction", "restriction_lift")
REQUEST_KINDS = ("access", "erasure", "restriction", "restriction_lift", "objection")


@dataclass(frozen=True)
class TextView:
    purpose: str
    version: str
    texts: dict[str, dict[str, str]]
    published_at: datetime | None
    basis: str = CONSENT_BASIS
    direct_marketing: bool = False


@dataclass(frozen=True)
class PurposeView:
    purpose: str
    basis: str
    direct_marketing: bool
    current_version: str

    @classmethod
    def from_steps(cls, purpose: str, steps: list[Document]) -> PurposeView:
        """A purpose from its publication log: the first step says what the purpose is,
        the last one which text is current."""
        first = steps[0]
        return cls(
            purpose=purpose,
            basis=first.get("basis", CONSENT_BASIS),
            direct_marketing=bool(first.get("direct_marketing", False)),
            current_version=steps[-1].get("version", ""),
        )


@dataclass(frozen=True)
class RecordView:
    id: str
    purpose: str
    action: str
    version: str
    channel: str
    reason: str
    recorded_at: datetime
    client_address: str
    pseudonymised: bool
    text: TextView | None = None

    @classmethod
    def from_doc(cls, doc: Document, text: TextView | None = None) -> RecordView:
        return cls(
            id=doc["id"],
            purpose=doc["purpose"],
            action=doc["action"],
            version=doc.get("version", ""),
            channel=doc.get("channel", ""),
            reason=doc.get("reason", ""),
            recorded_at=doc["recorded_at"],
            client_address=doc.get("client_address", ""),
            pseudonymised="pseudonymised_at" in doc,
            text=text,
        )


@dataclass(frozen=True)
class StateView:
    purpose: str
    state: str
    version: str
    since: datetime | None
    current_version: str


@dataclass(frozen=True)
class Overview:
    states: list[StateView]
    history: list[RecordView]


@dataclass(frozen=True)
class ReceiptView:
    service: str
    outcome: str
    deleted: list[str]
    blocked: list[str]
    blocked_until: str
    kept: list[str]
    note: str
    received_at: datetime | None
    # Issue 14: the collections the receipt declares kept, with their ends, and the
    # fingerprints of what the service deleted (never shown; the verifier seeks them).
    retained: list[dict[str, str]] = field(default_factory=list)
    fingerprints: list[str] = field(default_factory=list)

    @classmethod
    def from_doc(cls, doc: Document) -> ReceiptView:
        return cls(
            service=doc["service"],
            outcome=doc["outcome"],
            deleted=doc.get("deleted", []),
            blocked=doc.get("blocked", []),
            blocked_until=doc.get("blocked_until", ""),
            kept=doc.get("kept", []),
            note=doc.get("note", ""),
            received_at=doc.get("received_at"),
            retained=list(doc.get("retained", [])),
            fingerprints=list(doc.get("fingerprints", [])),
        )


@dataclass(frozen=True)
class RequestView:
    id: str
    kind: str
    status: str
    account_id: str
    received_at: datetime | None
    due_at: datetime | None
    purpose: str
    reason: str
    decision: str
    decided_at: datetime | None
    completed_at: datetime | None
    services: list[str]
    receipts: list[ReceiptView] = field(default_factory=list)
    # A complete erasure: the last result of the proof of erasure (None before its first).
    verification: Document | None = None

    @property
    def awaiting_services(self) -> list[str]:
        done = {r.service for r in self.receipts if r.outcome == "done"}
        return [s for s in self.services if s not in done] if self.kind in FAN_OUT_KINDS else []

    @property
    def waiting_for(self) -> list[str]:
        """The services a fan-out request still has no receipt at all from (a deferral is
        an answer: it names why, and ``awaiting_services`` still lists the service)."""
        answered = {r.service for r in self.receipts}
        return [s for s in self.services if s not in answered] if self.kind in FAN_OUT_KINDS else []

    def overdue(self, now: datetime) -> bool:
        return self.status in ACTIVE_STATUSES and self.due_at is not None and self.due_at < now

    @classmethod
    def from_doc(
        cls, doc: Document, receipts: list[ReceiptView] | None = None, verification: Document | None = None
    ) -> RequestView:
        return cls(
            id=doc["_id"],
            kind=doc["kind"],
            status=doc["status"],
            account_id=doc.get("account_id", ""),
            received_at=doc.get("received_at"),
            due_at=doc.get("due_at"),
            purpose=doc.get("purpose", ""),
            reason=doc.get("reason", ""),
            decision=doc.get("decision", ""),
            decided_at=doc.get("decided_at"),
            completed_at=doc.get("completed_at"),
            services=list(doc.get("services", [])),
            receipts=receipts or [],
            verification=verification,
        )
