"""Staff and orders: the fulfilment lists (in pages) and moving an order along.

A move is a step in the order's log, decided on the status the staff member saw, and once
appended an entry ``order.moved`` of the staff audit trail: when two staff move one order
at once, or a move meets the payment, the first step wins and
the other is refused with Aborted (HTTP 409, "load it again"). What a move sets going
(the refund of a cancelled order, the revocation of its download rights, the erasure
that waited for it) runs after its step, by the one writer that appended it.

Lists are ``queues/status-<status>/...`` (or ``open``) read newest first, one page at a
time; each entry's order is checked, and an entry the order has left for good is removed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lethe_common import tokens
from lethe_common.audit import AuditRecord
from lethe_common.errors import DomainError, FailedPrecondition, InvalidArgument, NotFound
from lethe_common.mongo import Document
from lethe_common.store.paging import Page, decode_cursor, encode_cursor, filtered_page, page_size
from lethe_common.subject import Subject
from lethe_common.validation import object_id
from lethe_shop.models import (
    CANCELLED,
    OPEN_STATUSES,
    STATUSES,
    aware,
    check_move,
    entitlement_id,
    passed,
    to_millis,
)
from lethe_shop.order_book import Loaded, OrderBook
from lethe_shop.order_state import blocks, move_step
from lethe_shop.repo_orders import (
    OPEN_QUEUE,
    RETENTION_QUEUE,
    owners,
    queue_item_order,
    status_queue,
)
from lethe_shop.repository import ShopRepository
from lethe_shop.retention import RetentionRules

log = logging.getLogger(__name__)
# An entry whose order does not exist: the order may be being inserted (entries come
# first); after this long it never will be.
ORPHAN_AFTER = timedelta(hours=1)
REFUND_GRACE = timedelta(minutes=10)
VIEW = "_view"
RESTRICTED = (
    "the customer restricted the processing of their data; the order waits until the restriction is lifted"
)
ORDER_MOVED = "order.moved"  # the audit trail's action of a move (detail: the new status)


@dataclass(frozen=True)
class MoveEntries:
    """What a move writes before its step, to be removed if the step is not appended."""

    retention: str = ""
    refund: str = ""


class StaffOrders:
    def __init__(
        self,
        repo: ShopRepository,
        book: OrderBook,
        rules: RetentionRules,
        order_closed: Callable[[Subject], object],
    ) -> None:
        self._store = repo.orders
        self._people = repo.people
        self._audit = repo.audit
        self._book = book
        self._rules = rules
        self._order_closed = order_closed

    # -- lists ----------------------------------------------------------------------------
    def page(
        self, status: str, size: int = 0, token: str = "", now: datetime | None = None
    ) -> tuple[list[Document], str]:
        """Orders in fulfilment, newest first: never blocked ones, never those of a person
        who restricted processing. Returns the page and the next page's token."""
        if status and status not in STATUSES:
            raise InvalidArgument(f"status must be one of {', '.join(STATUSES)}")
        queue = status_queue(status) if status else OPEN_QUEUE
        now = now or datetime.now(UTC)
        restricted: dict[tuple[str, ...], bool] = {}

        def fetch(cursor: str, limit: int) -> Page:
            current = self._store.queue_page(queue, cursor, limit)
            loaded = self._book.load_many(queue_item_order(e["item"]) for e in current.items)
            return Page(
                [
                    {
                        **entry,
                        VIEW: self._listed(
                            entry, loaded.get(queue_item_order(entry["item"])), status, restricted, now
                        ),
                    }
                    for entry in current.items
                ],
                current.next_cursor,
            )

        result = filtered_page(
            fetch, lambda entry: entry[VIEW] is not None, after=decode_cursor(token), limit=page_size(size)
        )
        return [entry[VIEW] for entry in result.items], encode_cursor(result.next_cursor)

    def _listed(
        self,
        entry: Document,
        loaded: Loaded | None,
        status: str,
        restricted: dict[tuple[str, ...], bool],
        now: datetime,
    ) -> Document | None:
        """The entry's order if it belongs on the list; removes entries stale for good."""
        if loaded is None:
            if now - aware(entry["at"]) > ORPHAN_AFTER:
                self._store.remove_entry(entry["_id"])
            return None
        state = loaded.state
        gone = passed(state.status, status) if status else state.status not in OPEN_STATUSES
        moved_on = gone or state.blocked or state.voided
        if moved_on or aware(entry["at"]) != aware(loaded.order["placed_at"]):
            self._store.remove_entry(entry["_id"])
            return None
        if status and state.status != status:
            return None  # a move that wrote this entry first may still append its step
        people = tuple(owners(loaded.order))
        if people not in restricted:
            restricted[people] = self._people.restricted(people)
        return None if restricted[people] else loaded.view()

    def one(self, order_id: str) -> Document:
        """One order as staff see it in fulfilment: never a blocked one (that is read under
        legal hold) nor one whose customer restricted processing."""
        object_id(order_id, "order id")
        loaded = self._book.load(order_id)
        if loaded is None or loaded.state.blocked or loaded.state.voided:
            raise NotFound("no such order in fulfilment")
        if self._book.restricted(loaded.order):
            raise FailedPrecondition(RESTRICTED)
        return loaded.view()

    # -- moves ----------------------------------------------------------------------------
    def move(self, actor_id: str, order_id: str, wanted: str, now: datetime | None = None) -> Document:
        """Staff move an order one step; completion (or cancelling a paid one) blocks it."""
        object_id(actor_id, "actor_account_id")
        object_id(order_id, "order id")
        now = to_millis(now or datetime.now(UTC))
        loaded = self._book.load(order_id)
        if loaded is None or loaded.state.blocked or loaded.state.voided:
            raise NotFound("no such order in fulfilment")
        order, seen = loaded.order, loaded.state.status
        if self._book.restricted(order):
            raise FailedPrecondition(RESTRICTED)
        check_move(seen, wanted, order["lines"])
        retain_until = self._rules.invoice_until(now) if blocks(seen, wanted) else None
        entries = self._before_move(order, wanted, retain_until)
        try:
            loaded, _ = self._book.append(
                loaded, lambda state: move_step(order, state, seen, wanted, actor_id, now, retain_until)
            )
        except DomainError:
            self._forget(order, wanted, entries)
            raise
        # The move happened: it is in the audit trail before anything it sets going (the
        # erasure that waited for the order trims the person's entries, this one too).
        self._audit.record(
            AuditRecord(
                actor_id,
                ORDER_MOVED,
                target=order_id,
                subject_key=str(order.get("subject_key", "")),
                detail=wanted,
            ),
            now,
        )
        if wanted == CANCELLED:
            self._people.revoke_entitlements(
                [
                    entitlement_id(order_id, line["product_id"])
                    for line in order["lines"]
                    if line["kind"] != "physical"
                ],
                owners(order),
            )
            loaded = self._book.settle_refund(loaded, entries.refund)
        if not loaded.state.open:
            self._order_closed(Subject.from_doc(order))
        return loaded.view()

    def _before_move(self, order: Document, wanted: str, retain_until: datetime | None) -> MoveEntries:
        """The entries the moved order needs, written before its step."""
        self._book.before_status(order, wanted, blocked=retain_until is not None)
        retention = refund = ""
        if retain_until is not None:
            retention = self._store.schedule(
                RETENTION_QUEUE, retain_until, f"{order['_id']}.{tokens.new_id('ret')}"
            )
        if wanted == CANCELLED:
            refund = self._book.schedule_refund(order)
        return MoveEntries(retention, refund)

    def _forget(self, order: Document, wanted: str, entries: MoveEntries) -> None:
        """The step was not appended: remove this move's own entries, and the status entry
        if the order can never be in that status again."""
        for entry_id in (entries.retention, entries.refund):
            if entry_id:
                self._store.remove_entry(entry_id)
        current = self._book.load(order["_id"])
        if current is None or passed(current.state.status, wanted) or current.state.blocked:
            self._store.unschedule(status_queue(wanted), order["placed_at"], order["_id"])

    # -- the refunds' safety net (worker sweep) ---------------------------------------------
    def retry_refunds(self, now: datetime | None = None) -> int:
        """Make the refunds whose writer stopped before making them; returns how many
        entries were settled."""
        now = now or datetime.now(UTC)
        settled = 0
        for entry in self._book.due_refunds(now):
            loaded = self._book.load(queue_item_order(entry["item"]))
            if loaded is None:
                self._book.remove_entry(entry["_id"])
                continue
            young = now - aware(entry.get("scheduled_at") or entry["at"]) < REFUND_GRACE
            self._book.settle_refund(loaded, entry["_id"], keep_if_not_due=young)
            settled += 1
        return settled
