"""The privacy-request ledger (SPEC section 4): requests, deadlines, receipts.

A request from a logged-in person is open at once; anyone else's waits until
the link mailed to the address is followed, so nobody can act on another
person's data by typing their address. Erasure and restriction fan out as
events and complete when every service in the request's list has sent its
``done`` receipt; access requests and objections go to staff, except an
objection to direct marketing, which stops it at once (Art. 21(3)).
"""

from __future__ import annotations

import calendar
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lethe_common import tokens
from lethe_common.errors import FailedPrecondition, InvalidArgument, NotFound
from lethe_common.events.envelope import Envelope
from lethe_common.mongo import Document
from lethe_common.privacy import Receipt, subject_filter
from lethe_common.validation import object_id, text
from lethe_consent.config import ConsentConfig
from lethe_consent.mailer import Mailer
from lethe_consent.models import (
    ACTIVE_STATUSES,
    FAN_OUT_KINDS,
    REQUEST_KINDS,
    STATUS_RANK,
    ReceiptView,
    RecordView,
    RequestView,
)
from lethe_consent.records import ConsentLedger, Subject
from lethe_consent.repository import ConsentRepository
from lethe_consent.texts import ConsentTexts

log = logging.getLogger(__name__)

MAX_REASON = 2000
STAFF_STATUSES = ("in_progress", "deferred", "complete", "rejected")
MAX_EXTENSION_MONTHS = 2


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later, or the month's last day when it has no such day."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def statuses_before(status: str) -> list[str]:
    """The statuses a request may move on from to ``status``: those ranked lower."""
    return [s for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[status]]


def status_after_receipts(services: list[str], receipts: list[ReceiptView]) -> tuple[str, str]:
    """The status a fan-out request has once these receipts arrived, and why it is deferred."""
    done = {r.service for r in receipts if r.outcome == "done"}
    deferred = {r.service: r for r in receipts if r.outcome == "deferred" and r.service not in done}
    if all(service in done for service in services):
        return "complete", ""
    if all(service in done or service in deferred for service in services):
        notes = "; ".join(f"{s}: {r.note or 'deferred'}" for s, r in sorted(deferred.items()))
        return "deferred", notes[:MAX_REASON]
    return "in_progress", ""


@dataclass(frozen=True)
class Opened:
    request: RequestView | None
    follow_token: str


class PrivacyRequests:
    def __init__(self, repo: ConsentRepository, ledger: ConsentLedger, texts: ConsentTexts,
                 mailer: Mailer, config: ConsentConfig) -> None:
        self._repo = repo
        self._ledger = ledger
        self._texts = texts
        self._mailer = mailer
        self._config = config

    # -- opening ------------------------------------------------------------------------
    def open(self, subject: Subject, kind: str, *, purpose: str = "", reason: str = "",
             authenticated: bool, now: datetime | None = None) -> Opened:
        now = now or datetime.now(UTC)
        if kind not in REQUEST_KINDS:
            raise InvalidArgument(f"kind must be one of {', '.join(REQUEST_KINDS)}")
        if kind == "objection":
            self._texts.purpose(purpose)
            reason = text(reason, "reason", max_length=MAX_REASON, multiline=True)
        else:
            purpose, reason = "", text(reason, "reason", max_length=MAX_REASON, required=False,
                                       multiline=True)
        if not authenticated:
            # Nobody vouches for an account id here: the mailbox decides who this is.
            anonymous = Subject("", subject.subject_key, subject.email)
            return self._await_confirmation(anonymous, kind, purpose, reason, now)
        follow = tokens.new_token()
        doc = self._new_doc(subject, kind, purpose, reason, follow, now)
        events = self._start(doc, now)
        self._repo.insert_request(doc, events)
        self._after_start(doc, subject, now)
        log.info("privacy request opened", extra={"request_id": doc["_id"], "kind": kind})
        self._mailer.request_opened(subject.email, doc["_id"], kind, follow)
        return Opened(self.view(doc["_id"]), follow)

    def _new_doc(self, subject: Subject, kind: str, purpose: str, reason: str, follow: str,
                 now: datetime) -> Document:
        return {"_id": tokens.new_id("pr"), "kind": kind, "status": "open",
                "received_at": now,
                "due_at": add_months(now, self._config.request_due_months),
                "account_id": subject.account_id, "subject_key": subject.subject_key,
                "purpose": purpose, "reason": reason, "follow_digest": tokens.digest(follow),
                "services": list(self._config.receipt_services) if kind in FAN_OUT_KINDS else [],
                "history": [{"status": "open", "at": now, "by": "person"}]}

    def _await_confirmation(self, subject: Subject, kind: str, purpose: str, reason: str,
                            now: datetime) -> Opened:
        """Store the request and mail the link; the answer is the same whatever happens."""
        since = now - timedelta(seconds=self._config.confirmation_window_seconds)
        recent = self._repo.count_requests({"subject_key": subject.subject_key,
                                            "received_at": {"$gte": since}})
        if recent >= self._config.confirmation_mails_per_address:
            log.info("privacy request not sent: too many for one address in the window")
            return Opened(None, "")
        confirm, follow = tokens.new_token(), tokens.new_token()
        doc = self._new_doc(subject, kind, purpose, reason, follow, now)
        doc.update(status="awaiting_confirmation", email=subject.email, confirm_digest=tokens.digest(confirm),
                   confirm_expires_at=now + timedelta(hours=self._config.confirmation_ttl_hours),
                   history=[{"status": "awaiting_confirmation", "at": now, "by": "person"}])
        self._repo.insert_request(doc)
        self._mailer.confirm_request(subject.email, doc["_id"], kind, confirm, follow,
                                     self._config.confirmation_ttl_hours)
        return Opened(None, "")

    def confirm(self, token: str, now: datetime | None = None) -> RequestView:
        now = now or datetime.now(UTC)
        invalid = InvalidArgument("this confirmation link is not valid or has expired; "
                                  "please file the request again")
        if not tokens.looks_like_token(token):
            raise invalid
        digest = tokens.digest(token)
        doc = self._repo.request_by_confirmation(digest)
        if doc is None or doc["confirm_expires_at"] < now:
            raise invalid
        if doc["status"] != "awaiting_confirmation" or \
                not self._repo.claim_token(digest, now, doc["confirm_expires_at"]):
            return self.view(doc["_id"])  # confirmed already: a second click changes nothing
        # The month starts when the confirmed request is received.
        doc.update(status="open", received_at=now, due_at=add_months(now, self._config.request_due_months))
        events = self._start(doc, now)
        subject = Subject(doc.get("account_id", ""), doc["subject_key"], doc.get("email", ""))
        self._repo.update_request(doc["_id"], {
            "status": doc["status"], "received_at": now, "due_at": doc["due_at"],
            "decision": doc.get("decision", ""),
            "history": [*doc.get("history", []), {"status": doc["status"], "at": now,
                                                  "by": "person"}]},
            unset=("email",), events=events)
        self._after_start(doc, subject, now)
        log.info("privacy request confirmed", extra={"request_id": doc["_id"], "kind": doc["kind"]})
        return self.view(doc["_id"])

    def _start(self, doc: Document, now: datetime) -> list[Envelope]:
        """Set a freshly received request going; returns the events to publish with it."""
        kind = doc["kind"]
        if kind in FAN_OUT_KINDS:
            doc.update(status="in_progress")
            if kind == "erasure":
                return [Envelope(type="privacy.erasure_requested", source="consent",
                                 subject_key=doc["subject_key"],
                                 payload={"request_id": doc["_id"],
                                          "account_id": doc.get("account_id", "")})]
            return [Envelope(type="privacy.restriction_changed", source="consent",
                             subject_key=doc["subject_key"],
                             payload={"request_id": doc["_id"], "account_id": doc.get("account_id", ""),
                                      "restricted": kind == "restriction"})]
        if kind == "objection" and self._texts.purpose(doc["purpose"]).direct_marketing:
            doc.update(status="complete", completed_at=now,
                       decided_at=now, decision="upheld: direct marketing stops at once "
                                                "(Art. 21(3) GDPR)")
        return []

    def _after_start(self, doc: Document, subject: Subject, now: datetime) -> None:
        """An upheld objection to direct marketing withdraws that consent, which all services obey."""
        if doc["kind"] == "objection" and doc["status"] == "complete":
            self._withdraw_for_objection(subject, doc["purpose"])

    def _withdraw_for_objection(self, subject: Subject, purpose: str) -> None:
        # Nothing granted under this purpose means nothing to stop.
        with contextlib.suppress(FailedPrecondition, InvalidArgument):
            self._ledger.withdraw(subject, purpose, "web_form", reason="objection")

    # -- following -----------------------------------------------------------------------
    def view(self, request_id: str) -> RequestView:
        doc = self._repo.request(request_id)
        if doc is None:
            raise NotFound("no privacy request with this id")
        return self._views([doc])[0]

    def _views(self, docs: list[Document]) -> list[RequestView]:
        receipts: dict[str, list[ReceiptView]] = {}
        for receipt in self._repo.receipts_of([d["_id"] for d in docs]):
            receipts.setdefault(receipt["request_id"], []).append(ReceiptView.from_doc(receipt))
        return [RequestView.from_doc(d, receipts.get(d["_id"], [])) for d in docs]

    def follow(self, request_id: str, token: str) -> RequestView:
        """The request, for whoever holds its follow token; NOT_FOUND tells nothing else."""
        not_found = NotFound("no privacy request with this id and token")
        if not tokens.looks_like_token(token):
            raise not_found
        doc = self._repo.request(request_id) if len(request_id) <= 64 else None
        if doc is None or not tokens.same_digest(token, doc.get("follow_digest", "")):
            raise not_found
        return self._views([doc])[0]

    def own(self, subject: Subject) -> list[RequestView]:
        return self._views(self._repo.requests_of(subject.account_id, subject.subject_key))

    # -- receipts ------------------------------------------------------------------------
    def receive(self, service: str, receipt: Receipt, now: datetime | None = None) -> bool:
        """File a service's receipt and move the request on; a repeat changes nothing."""
        now = now or datetime.now(UTC)
        doc = self._repo.request(receipt.request_id)
        expected = {"restriction": "restriction", "restriction_lift": "restriction_lift"}
        if doc is None or expected.get(doc["kind"], doc["kind"]) != receipt.kind:
            log.warning("receipt for no matching privacy request ignored",
                        extra={"request_id": receipt.request_id, "service": service})
            return False
        stored = self._repo.insert_receipt({
            "_id": f"{receipt.request_id}/{service}/{receipt.outcome}",
            "request_id": receipt.request_id, "service": service, "received_at": now,
            **{k: v for k, v in receipt.payload().items() if k not in ("request_id", "kind")}})
        if not stored:
            return False
        receipts = [ReceiptView.from_doc(r) for r in self._repo.receipts_of([receipt.request_id])]
        status, note = status_after_receipts(list(doc.get("services", [])), receipts)
        if STATUS_RANK[status] > STATUS_RANK[doc["status"]]:
            changes: dict[str, Any] = {"status": status}
            if status == "complete":
                changes["completed_at"] = now
            if status == "deferred":
                changes.update(decision=note, decided_at=now)
            self._repo.update_request(receipt.request_id, changes, only_from=statuses_before(status))
            log.info("privacy request moved on", extra={"request_id": receipt.request_id,
                                                        "status": status})
        return True

    # -- staff ---------------------------------------------------------------------------
    def list_for_staff(self, status: str = "", kind: str = "", overdue_only: bool = False,
                       now: datetime | None = None) -> list[RequestView]:
        now = now or datetime.now(UTC)
        query: Document = {"status": {"$ne": "awaiting_confirmation"}}
        if status:
            if status not in STATUS_RANK:
                raise InvalidArgument(f"status must be one of {', '.join(STATUS_RANK)}")
            query["status"] = status
        if kind:
            if kind not in REQUEST_KINDS:
                raise InvalidArgument(f"kind must be one of {', '.join(REQUEST_KINDS)}")
            query["kind"] = kind
        if overdue_only:
            query.update(status={"$in": list(ACTIVE_STATUSES)}, due_at={"$lt": now})
        return self._views(self._repo.requests(query))

    def update(self, actor: str, request_id: str, status: str, reason: str = "",
               extend_months: int = 0, now: datetime | None = None) -> RequestView:
        """Staff move a request on; deferral and rejection need a reason the person will read."""
        now = now or datetime.now(UTC)
        doc = self._staff_doc(request_id)
        if status not in STAFF_STATUSES:
            raise InvalidArgument(f"status must be one of {', '.join(STAFF_STATUSES)}")
        reason = text(reason, "reason", max_length=MAX_REASON, required=status in (
            "deferred", "rejected") or extend_months > 0, multiline=True)
        extended = doc.get("extended_months", 0) + extend_months
        if extend_months < 0 or extended > MAX_EXTENSION_MONTHS:
            raise InvalidArgument("the deadline can be extended by two further months at most "
                                  "(Art. 12(3) GDPR)")
        if doc["kind"] in FAN_OUT_KINDS and status == "complete" and \
                self.view(request_id).awaiting_services:
            raise FailedPrecondition("this request completes by itself once every service has "
                                     "sent its receipt")
        changes: dict[str, Any] = {
            "status": status, "decided_by": actor,
            "history": [*doc.get("history", []), {"status": status, "at": now, "by": actor}]}
        if reason:
            changes.update(decision=reason, decided_at=now)
        if extend_months:
            changes.update(extended_months=extended,
                           due_at=add_months(doc["due_at"], extend_months))
        if status in ("complete", "rejected"):
            changes["completed_at"] = now
        self._repo.update_request(request_id, changes)
        log.info("privacy request updated by staff", extra={"request_id": request_id,
                                                            "status": status})
        return self.view(request_id)

    def decide_objection(self, actor: str, request_id: str, uphold: bool, reason: str,
                         now: datetime | None = None) -> RequestView:
        """The data-protection officer's decision; the person sees it and its reasons."""
        now = now or datetime.now(UTC)
        doc = self._staff_doc(request_id)
        if doc["kind"] != "objection":
            raise FailedPrecondition("only objections are decided this way")
        reason = text(reason, "reason", max_length=MAX_REASON, multiline=True)
        status = "complete" if uphold else "rejected"
        decision = f"{'upheld' if uphold else 'rejected'}: {reason}"
        self._repo.update_request(request_id, {
            "status": status, "decision": decision,
            "decided_at": now, "decided_by": actor, "completed_at": now,
            "history": [*doc.get("history", []), {"status": status, "at": now, "by": actor}]})
        if uphold and self._texts.purpose(doc["purpose"]).basis == "consent":
            self._withdraw_for_objection(
                Subject(doc.get("account_id", ""), doc["subject_key"]), doc["purpose"])
        return self.view(request_id)

    def _staff_doc(self, request_id: str) -> Document:
        object_id(request_id, "request id")
        doc = self._repo.request(request_id)
        if doc is None or doc["status"] == "awaiting_confirmation":
            raise NotFound("no privacy request with this id")
        if doc["status"] in ("complete", "rejected"):
            raise FailedPrecondition("this request is closed already")
        return doc

    # -- the person's consents, where a withdrawal is also a request --------------------
    def withdraw_consent(self, subject: Subject, purpose: str, channel: str,
                         client_address: str = "") -> tuple[RecordView, str]:
        """Withdraw; withdrawing the account consent also erases the account (SPEC section 3)."""
        record = self._ledger.withdraw(subject, purpose, channel, client_address)
        if purpose != "account" or not subject.account_id:
            return record, ""
        existing = self._repo.requests({**subject_filter(subject.account_id, ""),
                                        "kind": "erasure",
                                        "status": {"$in": ["in_progress", "deferred"]}}, limit=1)
        if existing:
            return record, str(existing[0]["_id"])
        opened = self.open(subject, "erasure", reason="account consent withdrawn",
                           authenticated=True)
        return record, opened.request.id if opened.request else ""

    # -- metrics and retention -----------------------------------------------------------
    def overdue_counts(self, now: datetime | None = None) -> dict[str, int]:
        now = now or datetime.now(UTC)
        return {kind: self._repo.count_requests({"kind": kind, "status": {"$in": list(ACTIVE_STATUSES)},
                                                 "due_at": {"$lt": now}})
                for kind in REQUEST_KINDS}

    def open_counts(self) -> dict[tuple[str, str], int]:
        return {(kind, status): self._repo.count_requests({"kind": kind, "status": status})
                for kind in REQUEST_KINDS for status in (*ACTIVE_STATUSES, "deferred")}

    def forget_expired_confirmations(self, now: datetime) -> int:
        """Unconfirmed requests hold an address; once their link expired they go."""
        self._repo.delete_used_tokens_before(now)
        return len(self._repo.delete_requests({"status": "awaiting_confirmation",
                                               "confirm_expires_at": {"$lt": now}}))

    def forget_closed_before(self, cutoff: datetime) -> int:
        return len(self._repo.delete_requests({"status": {"$in": ["complete", "rejected"]},
                                               "completed_at": {"$lt": cutoff}}))
