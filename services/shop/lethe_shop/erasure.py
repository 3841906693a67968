"""The shop's part of an erasure or restriction, and its data export.

Erasure (SPEC section 2, orders row): the cart goes at once. Open orders stay
until the contract is fulfilled (Art. 17(3)(b) GDPR: a legal obligation to
perform it), and the receipt says so; a follow-up receipt comes once the last
of them is completed or cancelled. Blocked orders lose what retention does
not need (phone numbers, delivery notes) and the download history goes; the
rest stays blocked until its retention ends, and the receipt says until when.

Restriction keeps the person's orders out of every staff list until lifted.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from lethe_common.mongo import Document
from lethe_common.privacy import PrivacyEvent, Receipt, ReceiptSender
from lethe_common.privacy_api import wire_time
from lethe_shop.models import aware
from lethe_shop.repository import ShopRepository

log = logging.getLogger(__name__)

LEGAL_BASIS = ("orders and invoices: HGB §257 and AO §147 (booking documents and invoices "
               "8 years, business letters 6 years from the end of the calendar year)")
DEFERRED_NOTE = ("{count} open order(s) are kept until the contract is fulfilled (Art. 17(3)(b) "
                 "GDPR: the contract and the legal obligations it brings); a second receipt "
                 "follows once they are completed")


class ShopErasure:
    def __init__(self, repo: ShopRepository, receipts: ReceiptSender) -> None:
        self._repo = repo
        self._receipts = receipts

    def erase(self, request: PrivacyEvent, now: datetime | None = None) -> Receipt:
        """Idempotent: a repeat deletes nothing more and sends no second receipt."""
        now = now or datetime.now(UTC)
        account_id, key = request.account_id, request.subject_key
        carts = self._repo.delete_carts(account_id, key)
        open_orders = self._repo.open_order_count(account_id, key)
        if open_orders:
            self._repo.add_erasure_wait({"_id": request.request_id, "account_id": account_id,
                                         "subject_key": key, "opened_at": now})
            receipt = Receipt(
                request_id=request.request_id, kind="erasure", outcome="deferred",
                deleted=("shopping cart",) if carts else (),
                kept=("open orders (addresses, items, payment reference) until fulfilled: "
                      "Art. 17(3)(b) GDPR",),
                note=DEFERRED_NOTE.format(count=open_orders))
        else:
            receipt = self._finish(request.request_id, account_id, key)
        self._receipts.send(receipt, key)
        log.info("erasure handled", extra={"request_id": request.request_id,
                                           "outcome": receipt.outcome})
        return receipt

    def _finish(self, request_id: str, account_id: str, key: str) -> Receipt:
        """Everything the shop can do once no order of the person is open."""
        self._repo.delete_carts(account_id, key)
        self._repo.delete_unpaid_cancelled(account_id, key)
        self._repo.strip_blocked_orders(account_id, key)
        self._repo.delete_downloads_and_entitlements(account_id, key)
        blocked = [o for o in self._repo.orders_of_person(account_id, key) if o.get("blocked")]
        if not blocked:
            return Receipt(request_id=request_id, kind="erasure",
                           deleted=("shopping cart, unpaid orders, download rights and history",),
                           note="no order of this person is held any more")
        last = max(aware(o["retain_until"]) for o in blocked)
        return Receipt(
            request_id=request_id, kind="erasure",
            deleted=("shopping cart", "phone numbers and delivery notes of the orders",
                     "download rights and download history"),
            blocked=(f"{len(blocked)} order(s): billing and delivery address, items, totals, "
                     "payment reference; readable only for accounting under legal hold",
                     "records of hand-offs to the supplier (name, delivery address, items)"),
            blocked_until=f"deleted automatically at the end of {last.year}",
            kept=(LEGAL_BASIS,),
            note=f"{len(blocked)} order(s) blocked until their retention ends")

    def finish_waiting(self, account_id: str, subject_key: str) -> int:
        """Send the follow-up receipt of every waiting erasure whose orders are all closed."""
        finished = 0
        for wait in self._repo.erasure_waits(account_id, subject_key):
            if self._repo.open_order_count(wait["account_id"], wait["subject_key"]):
                continue
            receipt = self._finish(wait["_id"], wait["account_id"], wait["subject_key"])
            self._receipts.send(receipt, wait["subject_key"])
            self._repo.delete_erasure_wait(wait["_id"])
            finished += 1
        return finished

    def finish_all_waiting(self) -> int:
        """The worker's safety net for a follow-up the API did not get to send."""
        return self.finish_waiting("", "")  # no person given: every waiting erasure

    def restrict(self, request: PrivacyEvent) -> Receipt:
        restricted = request.kind == "restriction"
        count = self._repo.set_restricted(request.account_id, request.subject_key, restricted)
        if not count:
            receipt = Receipt(request_id=request.request_id, kind=request.kind,
                              note="no order held for this person")
        elif restricted:
            receipt = Receipt(request_id=request.request_id, kind=request.kind,
                              blocked=("orders: out of every staff list, no fulfilment step",),
                              blocked_until="until the person lifts the restriction",
                              note=f"{count} order(s) restricted")
        else:
            receipt = Receipt(request_id=request.request_id, kind=request.kind,
                              note="restriction lifted: orders are processed again")
        self._receipts.send(receipt, request.subject_key)
        return receipt

    def export(self, account_id: str, subject_key: str) -> dict[str, Any]:
        """Everything held about the person, blocked orders and hand-offs included."""
        cart = self._repo.cart(account_id) if account_id else None
        return {
            "cart": [dict(line) for line in cart["lines"]] if cart else [],
            "orders": [_order_export(o) for o in self._repo.orders_of_person(account_id,
                                                                             subject_key)],
            "supplier_handoffs": [{
                "order_id": h["order_id"], "recipient": h["recipient"], "purpose": h["purpose"],
                "fields": h["fields"], "at": wire_time(h["at"]),
                "retain_until": wire_time(h.get("retain_until"))}
                for h in self._repo.handoffs_of(account_id, subject_key)],
            "download_rights": [{
                "product_id": e["product_id"], "product_name": e["product_name"],
                "order_id": e["order_id"], "until": wire_time(e["until"])}
                for e in self._repo.entitlements_of_person(account_id, subject_key)],
            "download_history": [{"file": d["file"], "at": wire_time(d["at"])}
                                 for d in self._repo.downloads_of(account_id, subject_key)],
        }


def _order_export(order: Document) -> dict[str, Any]:
    return {
        "id": order["_id"], "status": order["status"], "placed_at": wire_time(order["placed_at"]),
        "lines": [dict(line) for line in order["lines"]],
        "totals": order["totals"], "billing": order["billing"], "delivery": order.get("delivery"),
        "delivery_note": order.get("delivery_note", ""),
        "payment": {"provider": order["payment"]["provider"],
                    "reference": order["payment"]["reference"],
                    "status": order["payment"]["status"]},
        "history": [{"status": h["status"], "at": wire_time(h["at"])} for h in order["history"]],
        "blocked": bool(order.get("blocked")),
        "retain_until": wire_time(order.get("retain_until")),
    }
