"""What staff do with privacy requests: the paged lists, one request, updates, objection
decisions, and the deadline gauges. Each update and decision is recorded in the staff audit
trail (``privacy_request.updated``, ``objection.decided``) under the request's subject key.

Lists read one staff queue (``request_state.listing_queue``), soonest due first, a
page at a time; an entry that does not match its request's state (left by a move
that crashed or lost a race) is skipped. Staff moves are steps (:mod:`request_book`):
two staff deciding one request at once both decide on the state they read, exactly
one step is appended, and the other decides again on the new state, where a closed
request refuses them (FAILED_PRECONDITION).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from lethe_common.audit import AuditRecord
from lethe_common.errors import FailedPrecondition, InvalidArgument, NotFound
from lethe_common.mongo import Document
from lethe_common.privacy import REQUEST_ID
from lethe_common.store.paging import MAX_PAGE, Page, decode_cursor, encode_cursor, filtered_page
from lethe_common.store.paging import page_size as checked_page_size
from lethe_common.store.steps import Step
from lethe_common.subject import Subject
from lethe_common.validation import object_id, text
from lethe_consent.models import (
    ACTIVE_STATUSES,
    AWAITING,
    CLOSED_STATUSES,
    EXPIRED,
    FAN_OUT_KINDS,
    REQUEST_KINDS,
    RequestView,
)
from lethe_consent.records import ConsentLedger, Person
from lethe_consent.repository import ConsentRepository
from lethe_consent.request_book import RequestBook
from lethe_consent.request_state import (
    MAX_EXTENSION_MONTHS,
    MAX_REASON,
    add_months,
    listing_queue,
    staff_entry_ids,
)
from lethe_consent.texts import ConsentTexts

log = logging.getLogger(__name__)

STAFF_STATUSES = ("in_progress", "deferred", "complete", "rejected")
# An entry whose request is gone is removed once it is this old (younger ones may belong
# to a request being written right now: its entries come before its document).
ORPHAN_AGE = timedelta(minutes=10)


def check_movable(state: Document) -> None:
    """Staff may move a request that was confirmed and is not closed."""
    if state["status"] in ("awaiting_confirmation", EXPIRED):
        raise NotFound("no privacy request with this id")
    if state["status"] in CLOSED_STATUSES:
        raise FailedPrecondition("this request is closed already")


class StaffDesk:
    def __init__(
        self, repo: ConsentRepository, book: RequestBook, ledger: ConsentLedger, texts: ConsentTexts
    ) -> None:
        self._store = repo.requests
        self.trail = self._audit = repo.audit  # ListAuditEntries reads it, the sweep ages it
        self._book = book
        self._ledger = ledger
        self._texts = texts

    # -- lists ---------------------------------------------------------------------------
    def listing(
        self,
        status: str = "",
        kind: str = "",
        overdue_only: bool = False,
        *,
        page_size: int = 0,
        page_token: str = "",
        now: datetime | None = None,
    ) -> tuple[list[RequestView], str]:
        """A page of the ledger, soonest due first, and the next page's token ("" at the end)."""
        now = now or datetime.now(UTC)
        queue = listing_queue(status, kind, overdue_only)
        limit = checked_page_size(page_size)
        states: dict[str, Document] = {}

        def fetch(cursor: str, size: int) -> Page:
            page = self._store.staff.page(
                queue, after=cursor, limit=size, until=now if overdue_only else None
            )
            states.update(self._book.states([e["item"] for e in page.items if e["item"] not in states]))
            return page

        def keep(entry: Document) -> bool:
            return self._matches(entry, states.get(entry["item"]), now)

        page = filtered_page(fetch, keep, after=decode_cursor(page_token), limit=limit)
        return (
            [self._book.view(states[entry["item"]]) for entry in page.items],
            encode_cursor(page.next_cursor),
        )

    def one(self, request_id: str) -> RequestView:
        """One request as the lists show it; NotFound for none, or one not confirmed yet."""
        if not REQUEST_ID.fullmatch(request_id):
            raise InvalidArgument("request_id is not a privacy request id")
        state = self._book.state(request_id)
        if state is None or state["status"] in (AWAITING, EXPIRED):
            raise NotFound("no privacy request with this id")
        return self._book.view(state)

    def _matches(self, entry: Document, state: Document | None, now: datetime) -> bool:
        """Whether a queue entry shows its request as it is; an entry of a request that is
        gone is removed (once it cannot be a request being written)."""
        if state is None:
            created = entry.get("created_at")
            if created is None or now - created > ORPHAN_AGE:
                self._store.staff.remove(entry["_id"])
            return False
        return entry["_id"] in staff_entry_ids(state)

    def _queue(self, queue: str, now: datetime) -> list[Document]:
        """The current states of every request a whole queue holds (gauges)."""
        found: list[Document] = []
        cursor = ""
        while True:
            page = self._store.staff.page(queue, after=cursor, limit=MAX_PAGE)
            states = self._book.states([entry["item"] for entry in page.items])
            found += [states[e["item"]] for e in page.items if self._matches(e, states.get(e["item"]), now)]
            cursor = page.next_cursor
            if not cursor:
                return found

    def deadline_counts(
        self, now: datetime | None = None
    ) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
        """Overdue requests by kind, and requests not closed by kind and status. Reads only
        the active and deferred queues: the cost follows the requests still open."""
        now = now or datetime.now(UTC)
        overdue = dict.fromkeys(REQUEST_KINDS, 0)
        pending = {(kind, status): 0 for kind in REQUEST_KINDS for status in (*ACTIVE_STATUSES, "deferred")}
        for state in [*self._queue("active", now), *self._queue("status.deferred", now)]:
            pending[(state["kind"], state["status"])] += 1
            if state["status"] in ACTIVE_STATUSES and state["due_at"] < now:
                overdue[state["kind"]] += 1
        return overdue, pending

    def overdue_sweep(self, now: datetime | None = None) -> dict[str, int]:
        """Requests open or in progress past their due date, by kind. Reads only the due part
        of the ``active`` queue (``_id`` range up to now, keyset pages). Each missed due date
        is alerted once (a WARNING with the request id): a unique insert decides, so repeated
        sweeps and every worker replica log it once between them."""
        now = now or datetime.now(UTC)
        overdue = dict.fromkeys(REQUEST_KINDS, 0)
        cursor = ""
        while True:
            page = self._store.staff.page("active", after=cursor, limit=MAX_PAGE, until=now)
            states = self._book.states([entry["item"] for entry in page.items])
            for entry in page.items:
                state = states.get(entry["item"])
                if not self._matches(entry, state, now) or state is None or not state["due_at"] < now:
                    continue
                overdue[state["kind"]] += 1
                if self._store.record_alert(state["_id"], state["due_at"], now):
                    log.warning("privacy request overdue", extra={"request_id": state["_id"]})
            cursor = page.next_cursor
            if not cursor:
                return overdue

    # -- moves ---------------------------------------------------------------------------
    def _movable(self, request_id: str) -> Document:
        object_id(request_id, "request id")
        doc = self._store.get(request_id)
        if doc is None:
            raise NotFound("no privacy request with this id")
        check_movable(self._book.state_of(doc))
        return doc

    def update(
        self,
        actor: str,
        request_id: str,
        status: str,
        reason: str = "",
        extend_months: int = 0,
        now: datetime | None = None,
    ) -> RequestView:
        """Staff move a request on; deferral and rejection need a reason the person will read."""
        now = now or datetime.now(UTC)
        doc = self._movable(request_id)
        if status not in STAFF_STATUSES:
            raise InvalidArgument(f"status must be one of {', '.join(STAFF_STATUSES)}")
        reason = text(
            reason,
            "reason",
            max_length=MAX_REASON,
            required=status in ("deferred", "rejected") or extend_months > 0,
            multiline=True,
        )
        if extend_months < 0:
            raise InvalidArgument("the deadline can only be extended")

        def decide(state: Document) -> Step:
            check_movable(state)
            extended = state["extended_months"] + extend_months
            if extended > MAX_EXTENSION_MONTHS:
                raise InvalidArgument(
                    "the deadline can be extended by two further months at most (Art. 12(3) GDPR)"
                )
            if (
                state["kind"] in FAN_OUT_KINDS
                and status == "complete"
                and self._book.view(state).awaiting_services
            ):
                raise FailedPrecondition(
                    "this request completes by itself once every service has sent its receipt"
                )
            fields: Document = {"status": status, "decided_by": actor, "by": actor, "at": now}
            if reason:
                fields.update(decision=reason, decided_at=now)
            if extend_months:
                fields.update(extended_months=extended, due_at=add_months(state["due_at"], extend_months))
            if status in CLOSED_STATUSES:
                fields["completed_at"] = now
            return Step(fields)

        moved = self._book.move(doc, decide)
        log.info("privacy request updated by staff", extra={"request_id": request_id, "status": status})
        detail = f"{status}, deadline +{extend_months} months" if extend_months else status
        self._audit.record(
            AuditRecord(
                actor,
                "privacy_request.updated",
                target=request_id,
                subject_key=str(doc.get("subject_key") or ""),
                reason=reason,
                detail=detail,
            ),
            now,
        )
        return self._book.view(moved.state)

    def decide_objection(
        self, actor: str, request_id: str, uphold: bool, reason: str, now: datetime | None = None
    ) -> RequestView:
        """The data-protection officer's decision; the person sees it and its reasons."""
        now = now or datetime.now(UTC)
        doc = self._movable(request_id)
        if doc["kind"] != "objection":
            raise FailedPrecondition("only objections are decided this way")
        reason = text(reason, "reason", max_length=MAX_REASON, multiline=True)
        status = "complete" if uphold else "rejected"
        decision = f"{'upheld' if uphold else 'rejected'}: {reason}"

        def decide(state: Document) -> Step:
            check_movable(state)
            return Step(
                {
                    "status": status,
                    "decision": decision,
                    "decided_at": now,
                    "decided_by": actor,
                    "completed_at": now,
                    "by": actor,
                    "at": now,
                }
            )

        moved = self._book.move(doc, decide)
        self._audit.record(
            AuditRecord(
                actor,
                "objection.decided",
                target=request_id,
                subject_key=str(doc.get("subject_key") or ""),
                reason=reason,
                detail="upheld" if uphold else "rejected",
            ),
            now,
        )
        if uphold and self._texts.purpose(doc["purpose"]).basis == "consent":
            self._ledger.withdraw_for_objection(Person(Subject.from_doc(doc)), doc["purpose"])
        return self._book.view(moved.state)
