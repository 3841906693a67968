"""Reading orders with their steps, and the bookkeeping around a new step.

Shared by the customer's side (:mod:`orders`), staff (:mod:`staff`), the worker's
fulfilment and the erasure: an order is loaded as its document, contacts and steps
(:class:`Loaded`); a step is appended with the queue entries it needs written first
and the ones it ends removed after; a refund that is due is made and recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from lethe_common import tokens
from lethe_common.mongo import Document
from lethe_common.store.steps import Step
from lethe_common.subject import Subject
from lethe_shop.models import OPEN_STATUSES, aware
from lethe_shop.order_state import OrderState, fold, refund_step, view
from lethe_shop.payment import BadNotification, PaymentProvider, ProviderUnavailable
from lethe_shop.repo_orders import (
    OPEN_QUEUE,
    REFUND_QUEUE,
    owners,
    person_item_order,
    status_queue,
)
from lethe_shop.repository import ShopRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    """An order as stored: the placed document, its contacts and its steps."""

    order: Document
    steps: list[Document]
    contacts: Document | None

    @property
    def state(self) -> OrderState:
        return fold(self.order, self.steps)

    @property
    def id(self) -> str:
        return str(self.order["_id"])

    def view(self) -> Document:
        return view(self.order, self.state, self.contacts)

    def after(self, steps: list[Document]) -> Loaded:
        return Loaded(self.order, steps, self.contacts)


class OrderBook:
    def __init__(self, repo: ShopRepository, provider: PaymentProvider) -> None:
        self._store = repo.orders
        self._people = repo.people
        self._provider = provider

    # -- reading --------------------------------------------------------------------------
    def load(self, order_id: str) -> Loaded | None:
        order = self._store.get(order_id)
        if order is None:
            return None
        return Loaded(order, self._store.steps(order_id), self._store.contacts([order_id]).get(order_id))

    def load_many(self, order_ids: Iterable[str]) -> dict[str, Loaded]:
        ids = list(dict.fromkeys(order_ids))
        orders = self._store.get_many(ids)
        contacts = self._store.contacts(orders)
        return {
            order_id: Loaded(orders[order_id], self._store.steps(order_id), contacts.get(order_id))
            for order_id in ids
            if order_id in orders
        }

    def of_person(self, subject: Subject) -> list[Loaded]:
        """Every order of the person (by account id or subject_key), oldest first."""
        wanted: dict[str, str] = {}
        for owner in subject.owners():
            for item in self._store.person_items(owner):
                placed, order_id = person_item_order(item)
                wanted.setdefault(order_id, placed)
        loaded = self.load_many(wanted)
        return sorted(
            (o for o in loaded.values() if not o.state.voided), key=lambda o: aware(o.order["placed_at"])
        )

    def restricted(self, order: Document) -> bool:
        return self._people.restricted(owners(order))

    # -- appending ------------------------------------------------------------------------
    def append(
        self, loaded: Loaded, decide: Callable[[OrderState], Step | None]
    ) -> tuple[Loaded, Document | None]:
        """Append the step ``decide`` names on the order's current state (decided again
        if another writer appended first); the order after it, and the step or None."""
        steps, step = self._store.append(loaded.id, lambda steps: decide(fold(loaded.order, steps)))
        after = loaded.after(steps)
        if step is not None:
            self._after_step(loaded.order, fold(loaded.order, steps[:-1]), after.state)
        return after, step

    def before_status(self, order: Document, status: str, blocked: bool) -> None:
        """The staff-list entry an order will need once in ``status``: written first."""
        if not blocked:
            self._store.schedule(status_queue(status), order["placed_at"], order["_id"])

    def _after_step(self, order: Document, before: OrderState, now: OrderState) -> None:
        """Entries the step made stale: the previous status's, and ``open`` once closed."""
        if before.status != now.status or now.blocked:
            self._store.unschedule(status_queue(before.status), order["placed_at"], order["_id"])
        if now.status not in OPEN_STATUSES or now.blocked or now.voided:
            self._store.unschedule(OPEN_QUEUE, order["placed_at"], order["_id"])

    # -- refunds --------------------------------------------------------------------------
    def schedule_refund(self, order: Document) -> str:
        """A refund entry, written before the step that may make a refund due: if this
        process stops before the refund, the sweep makes it."""
        return self._store.schedule(
            REFUND_QUEUE,
            order["placed_at"],
            f"{order['_id']}.{tokens.new_id('rfd')}",
            scheduled_at=datetime.now(UTC),
        )

    def settle_refund(self, loaded: Loaded, entry_id: str, *, keep_if_not_due: bool = False) -> Loaded:
        """Give the money back if the order's steps say it is due, record it, and drop the
        entry; if the provider does not answer, the entry stays for the sweep. The sweep
        keeps an entry that is not due yet if its writer may still be appending its step."""
        state = loaded.state
        if not state.refund_due and keep_if_not_due:
            return loaded
        if state.refund_due:
            try:
                charge = self._provider.refund(state.reference, loaded.id)
            except (ProviderUnavailable, BadNotification):
                log.warning("refund not taken; the sweep tries again", extra={"order_id": loaded.id})
                return loaded
            now = datetime.now(UTC)
            loaded, _ = self.append(loaded, lambda current: refund_step(current, charge.status, now))
        self._store.remove_entry(entry_id)
        return loaded

    def due_refunds(self, now: datetime) -> list[Document]:
        return self._store.due(REFUND_QUEUE, now)

    def remove_entry(self, entry_id: str) -> bool:
        return self._store.remove_entry(entry_id)
