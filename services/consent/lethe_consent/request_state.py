"""A privacy request's state, computed: no store access here.

The state is the request document (written once) with its steps applied in
order. Where a request is listed for staff follows from its state alone: one
entry per staff queue, ``<queue>/<due>/<request id>``, so a status change or a
deadline extension moves the request from some queues to others.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import datetime

from lethe_common.errors import InvalidArgument
from lethe_common.mongo import Document
from lethe_common.store.index import TimeQueue
from lethe_consent.models import (
    ACTIVE_STATUSES,
    LISTED_STATUSES,
    REQUEST_KINDS,
    ReceiptView,
)

MAX_REASON = 2000
MAX_EXTENSION_MONTHS = 2
# What a step may change; everything else in the document is fixed when it is written.
STATE_FIELDS = (
    "status",
    "received_at",
    "due_at",
    "decision",
    "decided_at",
    "decided_by",
    "completed_at",
    "extended_months",
)


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later, or the month's last day when it has no such day."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


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


def current(doc: Document, steps: Iterable[Document]) -> Document:
    """The request as its steps left it."""
    state = {"extended_months": 0, **doc}
    for step in steps:
        state.update({name: step[name] for name in STATE_FIELDS if name in step})
    return state


# -- staff queues ----------------------------------------------------------------------------
def staff_queues(status: str, kind: str) -> list[str]:
    """Every staff list a request of this status and kind appears in."""
    if status not in LISTED_STATUSES:
        return []
    queues = ["all", f"status.{status}", f"kind.{kind}", f"status.{status}.{kind}"]
    if status in ACTIVE_STATUSES:
        queues += ["active", f"active.{kind}"]
    return queues


def stored_time(moment: datetime) -> datetime:
    """``moment`` as the store gives it back (BSON keeps milliseconds), so a key made from
    a time before it was stored equals one made from the time read back."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def staff_entries(state: Document) -> list[tuple[str, datetime]]:
    due = state.get("due_at")
    if not due:
        return []
    return [(queue, stored_time(due)) for queue in staff_queues(state["status"], state["kind"])]


def staff_entry_ids(state: Document) -> set[str]:
    return {TimeQueue.entry_id(queue, due, str(state["_id"])) for queue, due in staff_entries(state)}


def possible_entry_ids(request_id: str, kind: str, dues: Iterable[datetime]) -> list[str]:
    """Every entry a request may have left in the staff queues over its life: any listed
    status, at any due date it had or an extension of it could have given."""
    ids = set()
    for due in {d for d in dues if d}:
        for months in range(MAX_EXTENSION_MONTHS + 1):
            for status in LISTED_STATUSES:
                for queue in staff_queues(status, kind):
                    ids.add(TimeQueue.entry_id(queue, stored_time(add_months(due, months)), request_id))
    return sorted(ids)


def listing_queue(status: str, kind: str, overdue_only: bool) -> str:
    """The one staff queue that holds exactly what the filters ask for."""
    if status and status not in LISTED_STATUSES:
        raise InvalidArgument(f"status must be one of {', '.join(LISTED_STATUSES)}")
    if kind and kind not in REQUEST_KINDS:
        raise InvalidArgument(f"kind must be one of {', '.join(REQUEST_KINDS)}")
    if overdue_only:
        return f"active.{kind}" if kind else "active"
    if status:
        return f"status.{status}.{kind}" if kind else f"status.{status}"
    return f"kind.{kind}" if kind else "all"
