"""An order's state from its placed data and its steps: plain functions, no store.

The placed order (lines, addresses, totals) is written once. Everything that happens to
it afterwards is a step in its own log (``lethe_common.store.steps``): the payment (the
charge's answer or the provider's notification, whichever comes first), staff moves,
refunds, the claim of the supplier hand-off. Its status, payment and history are those
steps read in order (:func:`fold`). The next step is decided from the steps seen (the
``*_step`` functions); the log's unique step numbers let exactly one of two writers that
decided on the same steps append, and the other decides again on the new ones.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from lethe_common.errors import Aborted, NotFound
from lethe_common.events.envelope import Envelope
from lethe_common.mongo import Document
from lethe_common.store.steps import Step
from lethe_shop.config import SERVICE
from lethe_shop.models import (
    CANCELLED,
    COMPLETED,
    OPEN_STATUSES,
    PAID,
    PLACED,
    aware,
    check_move,
)

# Step kinds.
PAYMENT, PAY, MOVE, HANDOFF, VOID = "payment", "paid", "moved", "handoff", "void"
CHARGED_STATUSES = ("pending", "succeeded")


@dataclass(frozen=True)
class OrderState:
    """What an order's steps say; the placed order itself is in the order document."""

    status: str = PLACED
    payment_status: str = "not_charged"
    reference: str = ""
    history: tuple[Document, ...] = ()
    paid_at: datetime | None = None
    blocked: bool = False
    retain_until: datetime | None = None
    handed_off: bool = False
    voided: bool = False

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES and not self.voided

    @property
    def refund_due(self) -> bool:
        """Cancelled while money was taken or is being taken: it goes back."""
        return self.status == CANCELLED and self.payment_status in CHARGED_STATUSES and bool(self.reference)


def _apply(state: OrderState, step: Document) -> OrderState:
    kind = step.get("kind")
    if kind == PAYMENT:
        return replace(
            state, reference=step.get("reference") or state.reference, payment_status=step["payment_status"]
        )
    if kind == PAY:
        state = replace(state, reference=step["reference"], payment_status="succeeded")
        if state.status != PLACED:
            return state
        return replace(
            state, status=PAID, paid_at=aware(step["at"]), history=(*state.history, _entry(PAID, step))
        )
    if kind == MOVE:
        state = replace(state, status=step["status"], history=(*state.history, _entry(step["status"], step)))
        if step.get("blocked"):
            state = replace(state, blocked=True, retain_until=aware(step["retain_until"]))
        return state
    if kind == HANDOFF:
        return replace(state, handed_off=True)
    if kind == VOID:
        return replace(state, voided=True)
    return state


def _entry(status: str, step: Document) -> Document:
    return {"status": status, "at": aware(step["at"]), "by": step.get("by", "")}


def fold(order: Document, steps: list[Document]) -> OrderState:
    """The order's state after ``steps`` (first to last); nothing after a void counts."""
    state = OrderState(
        history=({"status": PLACED, "at": aware(order["placed_at"]), "by": order["account_id"]},)
    )
    for step in steps:
        state = _apply(state, step)
        if state.voided:
            break
    return state


def view(order: Document, state: OrderState, contacts: Document | None) -> Document:
    """The order as the API shows it: placed data, contacts, and the state of its steps."""
    extra = contacts or {}
    billing = dict(order["billing"])
    if extra.get("billing_phone"):
        billing["phone"] = extra["billing_phone"]
    delivery = dict(order["delivery"]) if order.get("delivery") else None
    if delivery is not None and extra.get("delivery_phone"):
        delivery["phone"] = extra["delivery_phone"]
    return {
        **order,
        "billing": billing,
        "delivery": delivery,
        "delivery_note": extra.get("delivery_note", ""),
        "status": state.status,
        "paid_at": state.paid_at,
        "history": list(state.history),
        "payment": {
            "provider": order["provider"],
            "reference": state.reference,
            "status": state.payment_status,
        },
        "blocked": state.blocked,
        "retain_until": state.retain_until,
    }


def event(name: str, order: Document, **extra: Any) -> Envelope:
    return Envelope(
        type=name,
        source=SERVICE,
        subject_key=order["subject_key"],
        payload={"order_id": order["_id"], "account_id": order["account_id"], **extra},
    )


def _placed_event(order: Document) -> Envelope:
    return event(
        "order.placed",
        order,
        currency=order["totals"]["currency"],
        gross_cents=order["totals"]["gross_cents"],
    )


def payment_step(
    order: Document, state: OrderState, reference: str, charge_status: str, by: str, now: datetime
) -> Step | None:
    """What the provider's word about a charge (its answer or its notification) adds, if
    anything: the first word records the reference (``order.placed``); "succeeded" makes a
    placed order paid (``order.paid``), once, whoever says it first."""
    if state.voided or (state.reference and reference != state.reference):
        return None  # gone, or another charge than the one this order made
    placed = [] if state.reference else [_placed_event(order)]
    fields: Document = {"kind": PAYMENT, "reference": reference, "at": now, "by": by}
    if charge_status == "succeeded":
        if state.payment_status in ("succeeded", "refunded"):
            return None
        if state.status == PLACED:
            return Step({**fields, "kind": PAY}, [*placed, event("order.paid", order)])
        return Step({**fields, "payment_status": "succeeded"}, placed)  # cancelled meanwhile
    if charge_status == "pending":
        return None if state.reference else Step({**fields, "payment_status": "pending"}, placed)
    if charge_status == "failed":
        if state.payment_status in ("succeeded", "refunded", "failed"):
            return None
        return Step({**fields, "payment_status": "failed"}, placed)
    if charge_status == "refunded" and state.reference and state.payment_status != "refunded":
        return Step({**fields, "payment_status": "refunded"})
    return None


def blocks(current: str, wanted: str) -> bool:
    """Completion, and cancelling a paid order, make the order a booking document."""
    return wanted == COMPLETED or (wanted == CANCELLED and current != PLACED)


def move_step(
    order: Document,
    state: OrderState,
    seen: str,
    wanted: str,
    actor: str,
    now: datetime,
    retain_until: datetime | None,
) -> Step:
    """Staff's move, decided on the steps as they are now. If the order is no longer in the
    status the staff member saw, another writer got there first: Aborted (HTTP 409)."""
    if state.status != seen:
        raise Aborted(
            f"the order was changed meanwhile (it is {state.status} now); load it again",
            reason="order_changed",
        )
    if state.blocked or state.voided:
        raise NotFound("no such order in fulfilment")
    check_move(state.status, wanted, order["lines"])
    fields: Document = {"kind": MOVE, "status": wanted, "at": now, "by": actor}
    if blocks(state.status, wanted):
        fields.update(blocked=True, retain_until=retain_until)
    events = [event("order.completed", order)] if wanted == COMPLETED else []
    return Step(fields, events)


def handoff_step(state: OrderState, now: datetime) -> Step | None:
    """The claim of the supplier hand-off: once, and never for a cancelled order."""
    if state.handed_off or state.voided or state.status == CANCELLED or state.paid_at is None:
        return None
    return Step({"kind": HANDOFF, "at": now})


def void_step(state: OrderState, now: datetime, reason: str) -> Step | None:
    """A declined or invalid payment (``reason``: ``declined`` or ``invalid_token``): the
    order is void (and then removed), unless a charge was recorded meanwhile. The step
    stays when the order goes, so an order with this id can never be charged again."""
    if state.voided or state.reference or state.status != PLACED:
        return None
    return Step({"kind": VOID, "reason": reason, "at": now})


def void_reason(steps: list[Document]) -> str:
    """Why an order was voided (older void steps say nothing: they were declines)."""
    return next((str(s.get("reason") or "declined") for s in steps if s.get("kind") == VOID), "declined")


def refund_step(state: OrderState, refund_status: str, now: datetime) -> Step | None:
    if state.payment_status == refund_status:
        return None
    return Step(
        {
            "kind": PAYMENT,
            "reference": state.reference,
            "payment_status": refund_status,
            "at": now,
            "by": "refund",
        }
    )
