"""The JSON bodies of the consent and privacy-request routes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from lethe.consent.v1 import consent_pb2 as pb
from lethe_gateway.schemas import Email, Strict, Token

Purpose = Annotated[
    str, Field(min_length=2, max_length=40, pattern=r"^[a-z][a-z0-9_]{1,39}$", examples=["newsletter"])
]
Version = Annotated[str, Field(min_length=1, max_length=32, examples=["2026-01"])]
Reason = Annotated[str, Field(max_length=2000)]
RequestKind = Literal["access", "erasure", "restriction", "restriction_lift", "objection"]


def _opt(value: str) -> str | None:
    return value or None


class GrantBody(Strict):
    purpose: Purpose
    version: Annotated[Version, Field(description="the version of the text the person was shown")]


class LocalisedTextBody(Strict):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    body: Annotated[str, Field(min_length=1, max_length=20_000)]


class PublishTextBody(Strict):
    purpose: Purpose
    version: Version
    de: LocalisedTextBody
    en: LocalisedTextBody
    direct_marketing: bool = Field(default=False, description="only used when the purpose is new")


class ObjectionBody(Strict):
    purpose: Purpose
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class ErasureBody(Strict):
    reason: Reason = ""


class PrivacyRequestBody(Strict):
    email: Email
    kind: RequestKind
    purpose: Purpose | None = Field(default=None, description="objections only")
    reason: Reason = ""


class ConfirmBody(Strict):
    token: Token


class StaffUpdateBody(Strict):
    status: Literal["in_progress", "deferred", "complete", "rejected"]
    reason: Reason = ""
    extend_months: Annotated[int, Field(ge=0, le=2)] = 0


class ObjectionDecisionBody(Strict):
    uphold: bool
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


# -- responses -------------------------------------------------------------------------
class ConsentTextOut(BaseModel):
    purpose: str
    version: str
    published_at: str
    direct_marketing: bool
    texts: dict[str, dict[str, str]]

    @classmethod
    def of(cls, msg: pb.ConsentText) -> ConsentTextOut:
        return cls(
            purpose=msg.purpose,
            version=msg.version,
            published_at=msg.published_at,
            direct_marketing=msg.direct_marketing,
            texts={t.language: {"title": t.title, "body": t.body} for t in msg.texts},
        )


class ConsentRecordOut(BaseModel):
    id: str
    purpose: str
    action: str
    version: str | None
    channel: str
    reason: str | None
    recorded_at: str
    client_address: str | None
    pseudonymised: bool
    text: ConsentTextOut | None

    @classmethod
    def of(cls, msg: pb.ConsentRecord) -> ConsentRecordOut:
        return cls(
            id=msg.id,
            purpose=msg.purpose,
            action=msg.action,
            version=_opt(msg.version),
            channel=msg.channel,
            reason=_opt(msg.reason),
            recorded_at=msg.recorded_at,
            client_address=_opt(msg.client_address),
            pseudonymised=msg.pseudonymised,
            text=ConsentTextOut.of(msg.text) if msg.HasField("text") else None,
        )


class PurposeStateOut(BaseModel):
    purpose: str
    state: str
    version: str | None
    since: str | None
    current_version: str


class ConsentsOut(BaseModel):
    states: list[PurposeStateOut]
    history: list[ConsentRecordOut]

    @classmethod
    def of(cls, msg: pb.ConsentOverview) -> ConsentsOut:
        return cls(
            states=[
                PurposeStateOut(
                    purpose=s.purpose,
                    state=s.state,
                    version=_opt(s.version),
                    since=_opt(s.since),
                    current_version=s.current_version,
                )
                for s in msg.states
            ],
            history=[ConsentRecordOut.of(r) for r in msg.history],
        )


class WithdrawnOut(BaseModel):
    record: ConsentRecordOut
    erasure_request_id: str | None


class RetainedPlaceOut(BaseModel):
    collection: str = Field(description="the service's collection that keeps data of the person")
    until: str = Field(description="the date the keeping ends, or the event that ends it")


class ReceiptOut(BaseModel):
    service: str
    outcome: str
    deleted: list[str]
    blocked: list[str]
    blocked_until: str | None
    kept: list[str]
    note: str | None
    received_at: str
    retained: list[RetainedPlaceOut] = Field(
        default_factory=list, description="what the proof of erasure may find, and until when"
    )


class VerifiedTraceOut(BaseModel):
    service: str = Field(description="the service whose store, queue or log holds it")
    source: str = Field(description="store, queue or log")
    collection: str = Field(description="the collection, queue or log file")
    place: str = Field(description="where exactly; identifiers masked")
    what: str = Field(description="e-mail address, name, phone number, account id or subject key")
    until: str | None = Field(description="retained: when the keeping ends")
    declared: bool = Field(description="the service's data inventory declares this field")

    @classmethod
    def of(cls, msg: pb.VerifiedTrace) -> VerifiedTraceOut:
        return cls(
            service=msg.service,
            source=msg.source,
            collection=msg.collection,
            place=msg.place,
            what=msg.what,
            until=_opt(msg.until),
            declared=msg.declared,
        )


class VerificationOut(BaseModel):
    outcome: str = Field(description="passed, failed (something undeclared is left) or incomplete")
    checked_at: str
    retained: list[VerifiedTraceOut] = Field(description="found where a receipt declares it kept")
    failures: list[VerifiedTraceOut] = Field(description="found where no receipt declares it")
    unanswered: list[str] = Field(description="services that did not answer the search")
    documents_searched: int
    messages_searched: int
    log_lines_searched: int

    @classmethod
    def of(cls, msg: pb.ErasureVerification) -> VerificationOut:
        return cls(
            outcome=msg.outcome,
            checked_at=msg.checked_at,
            retained=[VerifiedTraceOut.of(t) for t in msg.retained],
            failures=[VerifiedTraceOut.of(t) for t in msg.failures],
            unanswered=list(msg.unanswered),
            documents_searched=msg.documents_searched,
            messages_searched=msg.messages_searched,
            log_lines_searched=msg.log_lines_searched,
        )


class PrivacyRequestOut(BaseModel):
    id: str
    kind: str
    status: str
    received_at: str
    due_at: str
    overdue: bool
    purpose: str | None
    reason: str | None
    decision: str | None
    decided_at: str | None
    completed_at: str | None
    awaiting_services: list[str]
    waiting_for: list[str] = Field(
        description="erasure and restriction: the services that have not sent any receipt yet"
    )
    receipts: list[ReceiptOut]
    verification: VerificationOut | None = Field(
        default=None, description="a complete erasure: the proof of erasure's last result"
    )

    @classmethod
    def of(cls, msg: pb.PrivacyRequest) -> PrivacyRequestOut:
        return cls(
            id=msg.id,
            kind=msg.kind,
            status=msg.status,
            received_at=msg.received_at,
            due_at=msg.due_at,
            overdue=msg.overdue,
            purpose=_opt(msg.purpose),
            reason=_opt(msg.reason),
            decision=_opt(msg.decision),
            decided_at=_opt(msg.decided_at),
            completed_at=_opt(msg.completed_at),
            awaiting_services=list(msg.awaiting_services),
            waiting_for=list(msg.waiting_for),
            receipts=[
                ReceiptOut(
                    service=r.service,
                    outcome=r.outcome,
                    deleted=list(r.deleted),
                    blocked=list(r.blocked),
                    blocked_until=_opt(r.blocked_until),
                    kept=list(r.kept),
                    note=_opt(r.note),
                    received_at=r.received_at,
                    retained=[RetainedPlaceOut(collection=p.collection, until=p.until) for p in r.retained],
                )
                for r in msg.receipts
            ],
            verification=VerificationOut.of(msg.verification) if msg.HasField("verification") else None,
        )


class OpenedOut(BaseModel):
    request: PrivacyRequestOut
    follow_token: str = Field(
        description="with the id, lets the person follow the request "
        "without logging in; shown once and mailed"
    )


class MissingPartOut(BaseModel):
    service: str = Field(description="identity, consent, shop or newsletter")
    reason: str = Field(description="why this part is not in the document, in words for people")


class DeclaredHoldingOut(BaseModel):
    collection: str = Field(description="where the service keeps it")
    fields: list[str] = Field(description="the fields that can hold personal data")
    categories: list[str] = Field(description="what kind of personal data")
    purpose: str
    lawful_basis: str
    retention: str
    recipients: list[str]


class ServiceExportOut(BaseModel):
    service: str = Field(description="identity, consent, shop or newsletter")
    holds: str = Field(description="what kind of data this service keeps, in words for people")
    complete: bool = Field(description="false when this service's part could not be collected")
    missing_reason: str | None = Field(description="why the part is missing; null when complete")
    data: dict[str, Any] | None = Field(description="what the service holds about you; null when missing")
    purposes: list[str] = Field(description="what the data is used for")
    lawful_bases: list[str] = Field(description="the legal grounds (GDPR articles) for holding it")
    retention: str = Field(description="how long it is kept")
    recipients: list[str] = Field(description="to whom it was passed (suppliers, payment provider)")
    inventory: list[DeclaredHoldingOut] = Field(
        default_factory=list,
        description="the service's data inventory: every place that can hold personal data, with "
        "its purpose, legal ground, retention and recipients",
    )


class DataExportOut(BaseModel):
    """Everything held about the logged-in person, from every service (Art. 15 and 20)."""

    format: str = Field(description="the document's format and version", examples=["lethe-data-export/1"])
    generated_at: str = Field(description="when the document was put together, RFC 3339 UTC")
    account_id: str
    email: str
    complete: bool = Field(description="true only when every service's part is in the document")
    missing: list[MissingPartOut] = Field(description="the parts that are not in the document, and why")
    services: list[ServiceExportOut]
