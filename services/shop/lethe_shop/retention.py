"""Legal retention of orders: block at completion, read only under legal hold, delete on time.

A completed order (or one cancelled after payment) is an invoice and booking
document: it is blocked at once, out of every list, and kept until the end of
the calendar year ``SHOP_RETENTION_INVOICE_YEARS`` (8) years on. A supplier
hand-off is a business letter, kept ``SHOP_RETENTION_LETTER_YEARS`` (6). The
worker's sweep deletes what is past its date and records how many, never whose.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from lethe_common import tokens
from lethe_common.errors import NotFound
from lethe_common.mongo import Document
from lethe_common.validation import object_id, text
from lethe_shop.models import end_of_retention
from lethe_shop.repository import ShopRepository

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
    def __init__(self, repo: ShopRepository) -> None:
        self._repo = repo

    def read_blocked(self, actor_id: str, order_id: str, reason: str,
                     now: datetime | None = None) -> Document:
        """A blocked order for accounting or an inspection; the read is recorded first."""
        object_id(actor_id, "actor_account_id")
        object_id(order_id, "order id")
        why = text(reason, "reason", max_length=300)
        order = self._repo.blocked_order(order_id)
        if order is None:
            raise NotFound("no blocked order with this id")
        self._repo.insert_legal_hold_read({
            "_id": tokens.new_id("lhr"), "actor_account_id": actor_id, "order_id": order_id,
            "reason": why, "at": now or datetime.now(UTC)})
        log.info("legal-hold read", extra={"order_id": order_id})
        return order

    def reads(self) -> list[Document]:
        return self._repo.legal_hold_reads()

    def sweep(self, now: datetime | None = None) -> dict[str, int]:
        """Delete what is past ``retain_until``; the audit record holds counts and times only."""
        now = now or datetime.now(UTC)
        deleted = self._repo.delete_expired(now)
        if any(deleted.values()):
            self._repo.record_retention_run({"_id": tokens.new_id("ret"), "at": now,
                                             "deleted": deleted})
        return deleted
