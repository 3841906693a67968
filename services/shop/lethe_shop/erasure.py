"""The shop's part of an erasure or restriction, and its data export.

Erasure (SPEC section 2, orders row): the cart goes at once. Open orders stay
until the contract is fulfilled (Art. 17(3)(b) GDPR: a legal obligation to
perform it), and the receipt says so; a follow-up receipt comes once the last
of them is completed or cancelled. Blocked orders lose what retention does
not need (phone numbers, delivery notes, the e-mail address older orders hold:
at once, even while others are open) and the download history goes; the rest
stays blocked until its retention ends, and every receipt says what and until when.

Restriction keeps the person's orders out of every staff list until lifted: it is
recorded once per request for the person (by account id and by subject_key), and read
where an order is listed or moved, instead of flagging every order.

Everything is found by ``_id`` from the account id and the subject_key: the person's
index entries (orders, download rights and history, hand-offs, waiting erasures).

The staff audit trail's entries about the person (moves of their orders, legal-hold reads)
are in their export (``staff_actions``); an erasure trims them to the subject key, the
action, the actor and the time, and every receipt of one declares ``staff_audit`` retained
when the person has entries there, or blocked orders a legal-hold read may still add one
for, until the audit retention after the last of them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from lethe_common.audit import AUDIT, DEFAULT_RETENTION_DAYS
from lethe_common.mongo import Document
from lethe_common.privacy import (
    PrivacyEvent,
    Receipt,
    ReceiptSender,
    RestrictionWording,
    Retained,
    restriction_receipt,
)
from lethe_common.privacy_api import wire_time
from lethe_common.subject import Subject
from lethe_shop.models import CANCELLED, aware
from lethe_shop.order_book import Loaded, OrderBook
from lethe_shop.order_state import OrderState
from lethe_shop.repo_orders import ORDER_CONTACTS, ORDER_STEPS, ORDERS, PERSON_INDEX
from lethe_shop.repo_people import HANDOFFS
from lethe_shop.repository import ShopRepository

log = logging.getLogger(__name__)

LEGAL_BASIS = (
    "orders and invoices: HGB §257 and AO §147 (booking documents and invoices "
    "8 years, business letters 6 years from the end of the calendar year)"
)
DEFERRED_NOTE = (
    "{count} open order(s) are kept until the contract is fulfilled (Art. 17(3)(b) "
    "GDPR: the contract and the legal obligations it brings); a second receipt "
    "follows once they are completed"
)
OPEN_KEPT = (
    "open orders (name and addresses, phone numbers, delivery note, items, payment "
    "reference, account id) until fulfilled: Art. 17(3)(b) GDPR"
)
AUDIT_KEPT = (
    "the staff audit entries about you (moves of your orders, reads of your blocked orders): "
    "what staff did and when, under your subject key only (no reason, no order), as proof "
    "of how your data was handled, Art. 5(2) GDPR"
)
RECHECK = timedelta(minutes=1)
RESTRICTION = RestrictionWording(
    blocked=("orders: out of every staff list, no fulfilment step",),
    restricted="{count} order(s) restricted",
    lifted="restriction lifted: orders are processed again",
    none_held="no order held for this person",
)


class ShopErasure:
    def __init__(
        self,
        repo: ShopRepository,
        book: OrderBook,
        receipts: ReceiptSender,
        audit_retention: timedelta = timedelta(days=DEFAULT_RETENTION_DAYS),
    ) -> None:
        self._store = repo.orders
        self._people = repo.people
        self._audit = repo.audit
        self._book = book
        self._receipts = receipts
        self._audit_retention = audit_retention

    def erase(self, request: PrivacyEvent, now: datetime | None = None) -> Receipt:
        """Idempotent: a repeat deletes nothing more and sends no second receipt."""
        now = now or datetime.now(UTC)
        subject = request.subject
        carts = self._people.delete_cart(subject.account_id)
        orders = self._book.of_person(subject)
        open_orders = [o for o in orders if o.state.open]
        if not open_orders:
            receipt = self._finish(request.request_id, subject)
            self._receipts.send(receipt, subject.subject_key)
            log.info("erasure handled", extra={"request_id": request.request_id, "outcome": receipt.outcome})
            return receipt
        self._people.add_wait({"_id": request.request_id, **subject.stored(), "opened_at": now})
        # What needs no waiting goes now: the e-mail address of every order, the contacts
        # of the blocked ones (issue 14: nothing stays that the receipt does not declare).
        blocked = self._tidy(orders)
        audited = self._trim_audit(subject, orders, blocked, now)
        receipt = Receipt(
            request_id=request.request_id,
            kind="erasure",
            outcome="deferred",
            deleted=(
                *(("shopping cart",) if carts else ()),
                "the e-mail address, where an order still held it",
                *(("phone numbers and delivery notes of the closed orders",) if blocked else ()),
            ),
            blocked=_blocked_lines(blocked) if blocked else (),
            blocked_until=_blocked_until(blocked),
            kept=(OPEN_KEPT, *((LEGAL_BASIS,) if blocked else ()), *((AUDIT_KEPT,) if audited else ())),
            note=DEFERRED_NOTE.format(count=len(open_orders)),
            retained=(*_retained(blocked, open_orders=True), *audited),
        )
        self._receipts.send(receipt, subject.subject_key)
        log.info("erasure handled", extra={"request_id": request.request_id, "outcome": receipt.outcome})
        # The last open order may have closed while the wait was written. Whoever closes an
        # order looks for waits after its step, and this looks at the orders after writing
        # the wait: one of the two sees the other.
        self.finish_waiting(subject)
        return receipt

    def _tidy(self, orders: list[Loaded]) -> list[OrderState]:
        """Drop the e-mail address that orders placed before issue 14 hold (this handler
        is that field's only writer: ``OrderStore.drop_email``) and the contacts of
        blocked orders; the states of the blocked ones."""
        blocked = []
        for loaded in orders:
            self._store.drop_email(loaded.order)
            if loaded.state.blocked:
                self._store.delete_contacts(loaded.id)
                blocked.append(loaded.state)
        return blocked

    def _finish(self, request_id: str, subject: Subject) -> Receipt:
        """Everything the shop can do once no order of the person is open."""
        people = subject.owners()
        self._people.delete_cart(subject.account_id)
        orders = self._book.of_person(subject)
        for loaded in orders:
            if loaded.state.status == CANCELLED and not loaded.state.blocked:
                self._store.delete(loaded.order)
        blocked = self._tidy([o for o in orders if o.state.blocked])
        self._people.delete_entitlements_of(people)
        self._people.delete_downloads_of(people)
        self._people.delete_restrictions(people)
        self._store.delete_keys_of(subject.account_id)  # what the person's Idempotency-Keys named
        audited = self._trim_audit(subject, orders, blocked, datetime.now(UTC))
        if not blocked:
            return Receipt(
                request_id=request_id,
                kind="erasure",
                deleted=("shopping cart, unpaid orders, download rights and history",),
                kept=(AUDIT_KEPT,) if audited else (),
                note="no order of this person is held any more",
                retained=audited,
            )
        return Receipt(
            request_id=request_id,
            kind="erasure",
            deleted=(
                "shopping cart",
                "the e-mail address, where an order still held it",
                "phone numbers and delivery notes of the orders",
                "download rights and download history",
            ),
            blocked=_blocked_lines(blocked),
            blocked_until=_blocked_until(blocked),
            kept=(LEGAL_BASIS, *((AUDIT_KEPT,) if audited else ())),
            note=f"{len(blocked)} order(s) blocked until their retention ends",
            retained=(*_retained(blocked), *audited),
        )

    def _trim_audit(
        self, subject: Subject, orders: list[Loaded], blocked: list[OrderState], now: datetime
    ) -> tuple[Retained, ...]:
        """Trim the person's audit entries; the receipt's declaration of what stays of them:
        entries the person has, and those a legal-hold read of a blocked order may still
        add, each kept for the audit retention (nothing when there are neither)."""
        keys = _subject_keys(subject, orders)
        entries = False
        for key in keys:
            self._audit.forget(key)
            entries = entries or bool(self._audit.about(key))
        if not entries and not blocked:
            return ()
        last = max([now, *(aware(s.retain_until) for s in blocked if s.retain_until)])
        return (Retained(AUDIT, (last + self._audit_retention).date().isoformat()),)

    def finish_waiting(self, subject: Subject) -> int:
        """Send the follow-up receipt of the person's waiting erasures if none of their
        orders is open any more (called after a move closed one of their orders)."""
        return sum(self._finish_wait(wait) for wait in self._people.waits_of(subject.owners()))

    def _finish_wait(self, wait: Document) -> int:
        subject = Subject.from_doc(wait)
        if any(o.state.open for o in self._book.of_person(subject)):
            return 0
        receipt = self._finish(wait["_id"], subject)
        self._receipts.send(receipt, subject.subject_key)  # once per request: a unique insert
        self._people.delete_wait(wait)
        return 1

    def finish_all_waiting(self, now: datetime | None = None) -> int:
        """The worker's safety net for a follow-up the API did not get to send: the waits
        due in ``queues/erasure-waits``; one still waiting is looked at again later."""
        now = now or datetime.now(UTC)
        finished = 0
        for entry in self._people.due_waits(now):
            wait = self._people.wait(entry["item"])
            if wait is not None:
                done = self._finish_wait(wait)
                finished += done
                if not done:
                    self._people.schedule_wait_check(wait, now + RECHECK)
            self._people.remove_entry(entry["_id"])
        return finished

    def restrict(self, request: PrivacyEvent) -> Receipt:
        """Record the restriction (or its lift) for the person, once per request; staff lists
        and moves read it for each order."""
        restricted = request.kind == "restriction"
        for owner in request.subject.owners():
            self._people.record_restriction(owner, request.request_id, restricted, request.occurred_at)
        receipt = restriction_receipt(request, len(self._book.of_person(request.subject)), RESTRICTION)
        self._receipts.send(receipt, request.subject.subject_key)
        return receipt

    def export(self, subject: Subject) -> dict[str, Any]:
        """Everything held about the person (as ``export_subject`` checked it), blocked
        orders and hand-offs included."""
        people = subject.owners()
        cart = self._people.cart(subject.account_id) if subject.account_id else None
        orders = self._book.of_person(subject)
        return {
            "cart": [dict(line) for line in cart["lines"]] if cart else [],
            "orders": [_order_export(o.view()) for o in orders],
            "supplier_handoffs": [
                {
                    "order_id": h["order_id"],
                    "recipient": h["recipient"],
                    "purpose": h["purpose"],
                    "fields": h["fields"],
                    "at": wire_time(h["at"]),
                    "retain_until": wire_time(h.get("retain_until")),
                }
                for h in sorted(self._people.handoffs_of(people), key=lambda h: aware(h["at"]))
            ],
            "download_rights": [
                {
                    "product_id": e["product_id"],
                    "product_name": e["product_name"],
                    "order_id": e["order_id"],
                    "until": wire_time(e["until"]),
                }
                for e in sorted(self._people.entitlements_of(people), key=lambda e: aware(e["granted_at"]))
            ],
            "download_history": [
                {"file": d["file"], "at": wire_time(d["at"])}
                for d in sorted(self._people.downloads_of(people), key=lambda d: aware(d["at"]))
            ],
            "staff_actions": [
                {
                    "action": str(doc["action"]),
                    "at": wire_time(doc["at"]),
                    "order_id": str(doc.get("target", "")),
                    "reason": str(doc.get("reason", "")),
                    "detail": str(doc.get("detail", "")),
                }
                for key in _subject_keys(subject, orders)
                for doc in self._audit.about(key)
            ],
        }


def _subject_keys(subject: Subject, orders: Iterable[Loaded]) -> list[str]:
    """The subject keys the person's audit entries are filed under: theirs (current and
    former), and those of their orders (found by account id too)."""
    found = [*subject.all_keys(), *(str(o.order.get("subject_key") or "") for o in orders)]
    return sorted({key for key in found if key})


def _blocked_lines(blocked: list[OrderState]) -> tuple[str, ...]:
    return (
        f"{len(blocked)} closed order(s) (completed, or cancelled after payment): billing and "
        "delivery address (with the name), "
        "VAT id, items, totals, payment reference, and the account id and pseudonymous key "
        "they are filed under; readable only for accounting under legal hold",
        "records of hand-offs to the supplier (which fields were passed, when, the supplier's reference)",
    )


OPEN_UNTIL = "until the open orders are fulfilled (a receipt follows then)"
OPEN_PLACES = (ORDERS, ORDER_CONTACTS, ORDER_STEPS, PERSON_INDEX, HANDOFFS)
BLOCKED_PLACES = (ORDERS, ORDER_STEPS, PERSON_INDEX, HANDOFFS)


def _retained(blocked: list[OrderState], open_orders: bool = False) -> tuple[Retained, ...]:
    """Where the proof of erasure may find the person, and until when: the blocked orders
    (and what files them) until the last retention ends; open orders until fulfilled."""
    ends = [aware(state.retain_until) for state in blocked if state.retain_until]
    places = [Retained(c, max(ends).date().isoformat()) for c in BLOCKED_PLACES] if ends else []
    if open_orders:
        places += [Retained(c, OPEN_UNTIL) for c in OPEN_PLACES]
    return tuple(places)


def _blocked_until(blocked: list[OrderState]) -> str:
    ends = [aware(state.retain_until) for state in blocked if state.retain_until]
    return f"deleted automatically at the end of {max(ends).year}" if ends else ""


def _order_export(order: Document) -> dict[str, Any]:
    return {
        "id": order["_id"],
        "status": order["status"],
        "placed_at": wire_time(order["placed_at"]),
        "lines": [dict(line) for line in order["lines"]],
        "totals": order["totals"],
        "billing": order["billing"],
        "delivery": order.get("delivery"),
        "delivery_note": order.get("delivery_note", ""),
        "payment": {
            "provider": order["payment"]["provider"],
            "reference": order["payment"]["reference"],
            "status": order["payment"]["status"],
        },
        "history": [{"status": h["status"], "at": wire_time(h["at"])} for h in order["history"]],
        "blocked": bool(order.get("blocked")),
        "retain_until": wire_time(order.get("retain_until")),
    }
