"""The privacy-request ledger (SPEC section 4): requests, confirmation, receipts, expiry.

A request from a logged-in person is open at once; anyone else's waits until
the link mailed to the address is followed, so nobody can act on another
person's data by typing their address. Erasure and restriction fan out as
events and complete when every service in the request's list has sent its
``done`` receipt; access requests and objections go to staff (:mod:`staff`),
except an objection to direct marketing, which stops it at once (Art. 21(3)).

Every move of a request after it is written is a step (:mod:`request_book`): two
clicks on one link, receipts handled by two workers at once, and the expiry sweep
racing a confirmation each end with exactly one step and one announcement.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lethe_common import tokens
from lethe_common.errors import InvalidArgument, NotFound
from lethe_common.events.envelope import Envelope
from lethe_common.mongo import Document
from lethe_common.privacy import Receipt
from lethe_common.send_limits import MailLimiter
from lethe_common.store.steps import Step
from lethe_common.subject import Subject
from lethe_common.validation import text
from lethe_consent.access_links import LINK_SENT, AccessDownloads
from lethe_consent.config import ConsentConfig
from lethe_consent.mailer import Mailer
from lethe_consent.models import (
    AWAITING,
    EXPIRED,
    FAN_OUT_KINDS,
    LISTED_STATUSES,
    REQUEST_KINDS,
    STATUS_RANK,
    RecordView,
    RequestView,
)
from lethe_consent.records import ConsentLedger, Person
from lethe_consent.repository import ConsentRepository
from lethe_consent.request_book import RequestBook
from lethe_consent.request_retention import CONFIRM_EXPIRIES, RequestRetention
from lethe_consent.request_state import (
    MAX_REASON,
    add_months,
    status_after_receipts,
    stored_time,
)
from lethe_consent.texts import ConsentTexts

__all__ = ["CONFIRMATION_MAIL", "Opened", "PrivacyRequests", "add_months", "status_after_receipts"]

log = logging.getLogger(__name__)

RECEIVING_STATUSES = ("open", "in_progress", "deferred")
# The send limit's name of the confirmation mail of a request made without an account.
CONFIRMATION_MAIL = "privacy-request-confirmation"


@dataclass(frozen=True)
class Opened:
    request: RequestView | None
    follow_token: str


def erasure_id_for(record: RecordView) -> str:
    """The erasure request a withdrawal of the account consent opens: derived from the
    withdrawal, so callers racing on one withdrawal open one request between them."""
    return "pr_" + hashlib.sha256(f"erasure-after/{record.id}".encode()).hexdigest()[:32]


class PrivacyRequests:
    def __init__(
        self,
        repo: ConsentRepository,
        ledger: ConsentLedger,
        texts: ConsentTexts,
        mailer: Mailer,
        config: ConsentConfig,
    ) -> None:
        self._store = repo.requests
        self._expiries = repo.expiries
        self.book = RequestBook(repo, config.proof_retention_days)
        self.retention = RequestRetention(self._store, self.book, repo.expiries)
        self.access = AccessDownloads(
            self._store, self.book, repo.expiries, mailer, config.download_ttl_hours
        )
        self._ledger = ledger
        self._texts = texts
        self._mailer = mailer
        self._config = config
        self.mail_limits = MailLimiter(
            repo.send_limits,
            config.common.subject_pepper,
            CONFIRMATION_MAIL,
            config.confirmation_limits.per_address,
            config.confirmation_limits.per_client,
        )
        self._on_erasure_complete: list[Callable[[str, datetime], None]] = []

    def on_erasure_complete(self, call: Callable[[str, datetime], None]) -> None:
        """Call ``call(request id, completion time)`` before an erasure's completing step is
        written (so a crash in between leaves a call too many, never one too few)."""
        self._on_erasure_complete.append(call)

    # -- opening ------------------------------------------------------------------------
    def open(
        self,
        person: Person,
        kind: str,
        *,
        purpose: str = "",
        reason: str = "",
        authenticated: bool,
        now: datetime | None = None,
        request_id: str = "",
        client_address: str = "",
    ) -> Opened:
        """Open a request; with ``request_id`` given and taken already, answer that one.
        ``client_address`` (the caller's, as the gateway saw it) counts against the limit
        of confirmation mails per client."""
        now = now or datetime.now(UTC)
        if kind not in REQUEST_KINDS:
            raise InvalidArgument(f"kind must be one of {', '.join(REQUEST_KINDS)}")
        if kind == "objection":
            self._texts.purpose(purpose)
            reason = text(reason, "reason", max_length=MAX_REASON, multiline=True)
        else:
            purpose, reason = (
                "",
                text(reason, "reason", max_length=MAX_REASON, required=False, multiline=True),
            )
        if not authenticated:
            # Nobody vouches for an account id here: the mailbox decides who this is.
            anonymous = Subject(subject_key=person.subject.subject_key)
            return self._await_confirmation(
                Person(anonymous, email=person.email), kind, purpose, reason, now, client_address
            )
        follow = tokens.new_token()
        doc = self._new_doc(person.subject, kind, purpose, reason, follow, now, request_id)
        fields, events = self._start(doc, now)
        doc.update(fields)
        if not self.book.insert(doc, events, now):
            return Opened(self.view(doc["_id"]), "")
        self._after_start(doc, person)
        log.info("privacy request opened", extra={"request_id": doc["_id"], "kind": kind})
        self._mailer.request_opened(person.email, doc["_id"], kind, follow)
        return Opened(self.view(doc["_id"]), follow)

    def _new_doc(
        self,
        subject: Subject,
        kind: str,
        purpose: str,
        reason: str,
        follow: str,
        now: datetime,
        request_id: str = "",
    ) -> Document:
        return {
            "_id": request_id or tokens.new_id("pr"),
            "kind": kind,
            "status": "open",
            "received_at": now,
            "due_at": add_months(now, self._config.request_due_months),
            **subject.stored(),
            "purpose": purpose,
            "reason": reason,
            "decision": "",
            "follow_digest": tokens.digest(follow),
            "created_at": now,
            "services": list(self._config.receipt_services) if kind in FAN_OUT_KINDS else [],
        }

    def _await_confirmation(
        self, person: Person, kind: str, purpose: str, reason: str, now: datetime, client_address: str
    ) -> Opened:
        """Store the request and mail the link; the answer is the same whatever happens.

        Over a send limit (per address or per client) nothing is stored and nothing is
        sent: the link is only in the mail, so a request without one could never be
        confirmed, and keeping its address for CONSENT_CONFIRMATION_TTL_HOURS would serve
        nothing. The caller gets the same empty answer either way."""
        request_id = tokens.new_id("pr")
        subject = person.subject
        if not self.mail_limits.admit(person.email, client_address, now):
            return Opened(None, "")
        confirm, follow = tokens.new_token(), tokens.new_token()
        digest = tokens.digest(confirm)
        expires = now + timedelta(hours=self._config.confirmation_ttl_hours)
        doc = self._new_doc(subject, kind, purpose, reason, follow, now, request_id)
        doc.update(status=AWAITING, confirm_digest=digest, confirm_expires_at=expires)
        # What points to the request first, the link last: each piece is swept by the expiry.
        self._expiries.schedule(
            CONFIRM_EXPIRIES, expires, request_id, digest=digest, subject_key=subject.subject_key
        )
        self._store.add_contact(request_id, person.email, now)
        self.book.insert(doc, [], now)
        self._store.add_confirmation(digest, request_id, expires)
        if self._ledger.erased_around(subject, now):
            self._store.delete_contact(request_id)
        self._mailer.confirm_request(
            person.email, request_id, kind, confirm, follow, self._config.confirmation_ttl_hours
        )
        return Opened(None, "")

    def confirm(self, token: str, now: datetime | None = None) -> RequestView:
        now = now or datetime.now(UTC)
        invalid = InvalidArgument(
            "this confirmation link is not valid or has expired; please file the request again"
        )
        if not tokens.looks_like_token(token):
            raise invalid
        link = self._store.confirmation(tokens.digest(token))
        doc = self._store.get(link["request_id"]) if link and link["expires_at"] >= now else None
        if doc is None:
            raise invalid
        contact = self._store.contact(doc["_id"]) or {}

        def decide(state: Document) -> Step | None:
            if state["status"] == EXPIRED:
                raise invalid
            if state["status"] != AWAITING:
                return None  # confirmed already: a second click changes nothing
            fields, events = self._start(state, now)
            if state["kind"] == "access":  # answered by the download link mailed below
                fields = {"status": "in_progress", "decision": LINK_SENT, "decided_at": now}
            # The month starts when the confirmed request is received.
            return Step(
                {
                    "received_at": now,
                    "due_at": add_months(now, self._config.request_due_months),
                    **fields,
                    "by": "person",
                    "at": now,
                },
                events,
            )

        moved = self.book.move(doc, decide)
        if moved.moved:
            if doc["kind"] == "access" and contact.get("email"):
                self.access.send_link(doc, str(contact["email"]), now)
            self._store.delete_contact(doc["_id"])
            self._after_start(moved.state, Person(Subject.from_doc(doc), email=contact.get("email", "")))
            log.info("privacy request confirmed", extra={"request_id": doc["_id"], "kind": doc["kind"]})
        return self.book.view(moved.state)

    def _start(self, request: Document, now: datetime) -> tuple[Document, list[Envelope]]:
        """How a freshly received request starts: its status fields and the events to
        publish with them."""
        kind = request["kind"]
        payload: dict[str, object] = {
            "request_id": request["_id"],
            "account_id": request.get("account_id", ""),
        }
        if request.get("former_subject_keys"):
            payload["former_subject_keys"] = list(request["former_subject_keys"])
        if kind == "erasure":
            return {"status": "in_progress"}, [
                Envelope(
                    type="privacy.erasure_requested",
                    source="consent",
                    subject_key=request["subject_key"],
                    payload=payload,
                )
            ]
        if kind in FAN_OUT_KINDS:
            return {"status": "in_progress"}, [
                Envelope(
                    type="privacy.restriction_changed",
                    source="consent",
                    subject_key=request["subject_key"],
                    payload={**payload, "restricted": kind == "restriction"},
                )
            ]
        if kind == "objection" and self._texts.purpose(request["purpose"]).direct_marketing:
            return {
                "status": "complete",
                "completed_at": now,
                "decided_at": now,
                "decision": "upheld: direct marketing stops at once (Art. 21(3) GDPR)",
            }, []
        return {"status": "open"}, []

    def _after_start(self, state: Document, person: Person) -> None:
        """An upheld objection to direct marketing withdraws that consent, which all services obey."""
        if state["kind"] == "objection" and state["status"] == "complete":
            self._ledger.withdraw_for_objection(person, state["purpose"])

    # -- following -----------------------------------------------------------------------
    def view(self, request_id: str) -> RequestView:
        state = self.book.state(request_id)
        if state is None or state["status"] == EXPIRED:
            raise NotFound("no privacy request with this id")
        return self.book.view(state)

    def follow(self, request_id: str, token: str) -> RequestView:
        """The request, for whoever holds its follow token; NOT_FOUND tells nothing else."""
        not_found = NotFound("no privacy request with this id and token")
        if not tokens.looks_like_token(token):
            raise not_found
        state = self.book.state(request_id) if len(request_id) <= 64 else None
        if (
            state is None
            or state["status"] == EXPIRED
            or not tokens.same_digest(token, state.get("follow_digest", ""))
        ):
            raise not_found
        return self.book.view(state)

    def _own_states(self, subject: Subject) -> list[Document]:
        """The person's requests that anyone sees (not unconfirmed ones), newest first."""
        states = [
            s
            for s in self.book.states(self._store.owned_by(subject)).values()
            if s["status"] in LISTED_STATUSES
        ]
        return sorted(states, key=lambda s: s["received_at"], reverse=True)

    def own(self, subject: Subject, limit: int = 200) -> list[RequestView]:
        return [self.book.view(state) for state in self._own_states(subject)[:limit]]

    # -- receipts ------------------------------------------------------------------------
    def receive(self, service: str, receipt: Receipt, now: datetime | None = None) -> bool:
        """File a service's receipt and move the request on; a repeat changes nothing.

        The status is decided from every receipt read after this one was filed, so of
        two receipts filed at once the later reader sees both; the step log keeps either
        from moving the request back.
        """
        now = now or datetime.now(UTC)
        doc = self._store.get(receipt.request_id)
        expected = {"restriction": "restriction", "restriction_lift": "restriction_lift"}
        if doc is None or expected.get(doc["kind"], doc["kind"]) != receipt.kind:
            log.warning(
                "receipt for no matching privacy request ignored",
                extra={"request_id": receipt.request_id, "service": service},
            )
            return False
        stored = self._store.insert_receipt(
            {
                "_id": f"{receipt.request_id}/{service}/{receipt.outcome}",
                "request_id": receipt.request_id,
                "service": service,
                "received_at": now,
                **{k: v for k, v in receipt.payload().items() if k not in ("request_id", "kind")},
            }
        )

        def decide(state: Document) -> Step | None:
            if state["status"] not in RECEIVING_STATUSES:
                return None
            status, note = status_after_receipts(
                list(doc.get("services", [])), self.book.receipts(doc["_id"])
            )
            if STATUS_RANK[status] <= STATUS_RANK[state["status"]]:
                return None
            fields: Document = {"status": status, "by": service, "at": now}
            if status == "complete":
                fields["completed_at"] = now
                if doc["kind"] == "erasure":
                    for call in self._on_erasure_complete:
                        call(doc["_id"], now)
            if status == "deferred":
                fields.update(decision=note, decided_at=now)
            return Step(fields)

        moved = self.book.move(doc, decide)
        log.info(
            "receipt filed",
            extra={
                "request_id": receipt.request_id,
                "from": service,
                "outcome": receipt.outcome,
                "new": stored,
                "status": moved.state["status"],
            },
        )
        return stored or moved.moved

    # -- the person's consents, where a withdrawal is also a request --------------------
    def withdraw_consent(
        self, person: Person, purpose: str, channel: str, client_address: str = ""
    ) -> tuple[RecordView, str]:
        """Withdraw; withdrawing the account consent also erases the account (SPEC section 3)."""
        record = self._ledger.withdraw(person, purpose, channel, client_address)
        account_id = person.subject.account_id
        if purpose != "account" or not account_id:
            return record, ""
        running = [
            s
            for s in self._own_states(Subject(account_id=account_id))
            if s["kind"] == "erasure" and s["status"] in ("in_progress", "deferred")
        ]
        if running:
            return record, str(running[0]["_id"])
        request_id = erasure_id_for(record)
        if self._store.get(request_id) is not None:
            return record, request_id
        # Received when the consent was withdrawn: callers racing write the same request.
        opened = self.open(
            person,
            "erasure",
            reason="account consent withdrawn",
            authenticated=True,
            now=stored_time(record.recorded_at),
            request_id=request_id,
        )
        return record, opened.request.id if opened.request else ""
