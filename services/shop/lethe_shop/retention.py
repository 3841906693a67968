"""Legal retention of orders: block at completion, read only under legal hold, delete on time.

A completed order (or one cancelled after payment) is an invoice and booking
document: it is blocked at once, out of every list, and kept until the end of
the calendar year ``SHOP_RETENTION_INVOICE_YEARS`` (8) years on. A supplier
hand-off is a business letter, kept ``SHOP_RETENTION_LETTER_YEARS`` (6). The
worker's sweep deletes what is past its date and records how many, never whose.
It finds them as ``queues/retention/...`` and ``queues/letters/...`` entries by the
time their retention ends, so each run reads only what is due. The same sweep deletes the
staff audit trail's entries older than ``LETHE_AUDIT_RETENTION_DAYS``.

Every legal-hold read is an entry ``legal_hold.read`` of the staff audit trail (who, which
order, whose it is, why), recorded before the order is shown. The reads an older database
recorded in ``legal_hold_reads`` are listed after the trail's, and swept like them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lethe_common import tokens
from lethe_common.audit import DEFAULT_RETENTION_DAYS, AuditRecord
from lethe_common.errors import NotFound
from lethe_common.mongo import Document
from lethe_common.privacy_api import wire_time
from lethe_common.store.paging import decode_cursor, encode_cursor, page_size
from lethe_common.validation import object_id, text
from lethe_shop.models import aware, end_of_retention, to_millis
from lethe_shop.order_book import OrderBook
from lethe_shop.repo_orders import RETENTION_QUEUE, queue_item_order
from lethe_shop.repository import EARLIER_READS, READS, ShopRepository

LEGAL_HOLD_READ = "legal_hold.read"  # the audit trail's action of a legal-hold read


@dataclass(frozen=True)
class LegalHoldRead:
    """One read of a blocked order, as ListLegalHoldReads answers it."""

    id: str
    actor_account_id: str
    order_id: str
    reason: str
    at: str


def _read_of_entry(doc: Document) -> LegalHoldRead:
    return LegalHoldRead(
        str(doc["entry_id"]),
        str(doc["actor_id"]),
        str(doc.get("target", "")),
        str(doc.get("reason", "")),
        wire_time(doc["at"]),
    )


def _read_of_earlier(doc: Document) -> LegalHoldRead:
    return LegalHoldRead(
        str(doc["read_id"]),
        str(doc["actor_account_id"]),
        str(doc["order_id"]),
        str(doc["reason"]),
        wire_time(doc["at"]),
    )


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionRules:
    invoice_years: int
    letter_years: int

    def invoice_until(self, made: datetime) -> datetime:
        return end_of_retention(made, self.invoice_years)

    def letter_until(self, made: datetime) -> datetime:
        return end_of_retention(made, self.letter_years)


class Retention:
    def __init__(
        self, repo: ShopRepository, book: OrderBook, audit_retention_days: int = DEFAULT_RETENTION_DAYS
    ) -> None:
        self._repo = repo
        self._store = repo.orders
        self._people = repo.people
        self._book = book
        self._audit_days = audit_retention_days

    def read_blocked(
        self, actor_id: str, order_id: str, reason: str, now: datetime | None = None
    ) -> Document:
        """A blocked order for accounting or an inspection; the read is recorded first."""
        object_id(actor_id, "actor_account_id")
        object_id(order_id, "order id")
        why = text(reason, "reason", max_length=300)
        loaded = self._book.load(order_id)
        if loaded is None or not loaded.state.blocked:
            raise NotFound("no blocked order with this id")
        self._repo.audit.record(
            AuditRecord(
                actor_id,
                LEGAL_HOLD_READ,
                target=order_id,
                subject_key=str(loaded.order.get("subject_key", "")),
                reason=why,
            ),
            to_millis(now or datetime.now(UTC)),
        )
        log.info("legal-hold read", extra={"order_id": order_id})
        return loaded.view()

    def reads(self, size: int = 0, token: str = "") -> tuple[list[LegalHoldRead], str]:
        """Who read which blocked order, newest first, one page; and the next page's token.
        The audit trail's reads come first, then those of the earlier layout (older)."""
        after, limit = decode_cursor(token), page_size(size)
        found: list[LegalHoldRead] = []
        if not after.startswith(READS):  # a key of the trail, or the first page
            current = self._repo.audit.page(after, limit, action=LEGAL_HOLD_READ)
            found = [_read_of_entry(doc) for doc in current.items]
            if current.next_cursor:
                return found, encode_cursor(current.next_cursor)
            after = EARLIER_READS
        if len(found) == limit:  # the trail's last page is full: the earlier ones follow, if any
            more = self._repo.earlier_legal_hold_reads(EARLIER_READS, 1).items
            return found, encode_cursor(EARLIER_READS if more else "")
        earlier = self._repo.earlier_legal_hold_reads(after, limit - len(found))
        found += [_read_of_earlier(doc) for doc in earlier.items]
        return found, encode_cursor(earlier.next_cursor)

    def sweep(self, now: datetime | None = None) -> dict[str, int]:
        """Delete what is past its retention (found by the time it ends); the audit record
        holds counts and times only."""
        now = now or datetime.now(UTC)
        deleted = {"orders": self._expire_orders(now), "supplier_handoffs": self._expire_letters(now)}
        if any(deleted.values()):
            self._repo.record_retention_run({"_id": tokens.new_id("ret"), "at": now, "deleted": deleted})
        return deleted

    def sweep_audit(self, now: datetime | None = None) -> dict[str, int]:
        """Delete the staff audit trail's entries (and the earlier layout's legal-hold reads)
        older than ``LETHE_AUDIT_RETENTION_DAYS``; how many went, never whose."""
        now = now or datetime.now(UTC)
        cutoff = now - timedelta(days=self._audit_days)
        return {
            "staff_audit": self._repo.audit.sweep(now, self._audit_days),
            "legal_hold_reads": self._repo.sweep_earlier_legal_hold_reads(cutoff),
        }

    def _expire_orders(self, now: datetime) -> int:
        deleted = 0
        while entries := self._store.due(RETENTION_QUEUE, now):
            for entry in entries:
                order_id = queue_item_order(entry["item"])
                loaded = self._book.load(order_id)
                if loaded is None:
                    self._store.delete_remains(order_id)
                elif loaded.state.blocked and _ended(loaded.state.retain_until, now):
                    deleted += int(self._store.delete(loaded.order))
                # else: the entry of a move that lost; the order's own entry is elsewhere
                self._store.remove_entry(entry["_id"])
        return deleted

    def _expire_letters(self, now: datetime) -> int:
        deleted = 0
        while entries := self._people.due_letters(now):
            for entry in entries:
                handoff = self._people.handoff(entry["item"])
                if handoff is not None and aware(handoff["retain_until"]) <= now:
                    deleted += int(self._people.delete_handoff(handoff))
                self._people.remove_entry(entry["_id"])
        return deleted


def _ended(retain_until: datetime | None, now: datetime) -> bool:
    return retain_until is not None and aware(retain_until) <= now
