"""The privacy-request ledger's bookkeeping: states, moves, index entries, deletion.

A request is written once; every move after that is a step appended to its log
(:mod:`lethe_common.store.steps`). Whoever moves a request (the person confirming,
each service's receipt, staff, the expiry sweep) decides from the state it read and
appends under the next number; when two decide at once, exactly one appends and the
other decides again on the new state (perhaps that nothing is left to do, perhaps
that the move is no longer allowed). Before a step is appended the staff-queue
entries of the new state, and the retention entry of a closed request, are written;
after it, the entries of the old state go. A crash in between leaves an extra entry,
which readers recognise (it does not match the state) and skip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lethe_common.events.envelope import Envelope
from lethe_common.mongo import Document
from lethe_common.store.steps import Step
from lethe_common.subject import Subject
from lethe_consent.models import CLOSED_STATUSES, ReceiptView, RequestView
from lethe_consent.repository import ConsentRepository
from lethe_consent.request_state import (
    current,
    possible_entry_ids,
    staff_entries,
    staff_entry_ids,
)

CLOSED_EXPIRIES = "closed"
TOMBSTONES = "tombstones"
TOMBSTONE_AGE = timedelta(days=1)


@dataclass(frozen=True)
class Moved:
    """A request's state after a move, and whether this caller's step was appended."""

    state: Document
    moved: bool


class RequestBook:
    def __init__(self, repo: ConsentRepository, proof_retention_days: int) -> None:
        self._store = repo.requests
        self._expiries = repo.expiries
        self._proof = timedelta(days=proof_retention_days)

    # -- reading ----------------------------------------------------------------------------
    def state(self, request_id: str) -> Document | None:
        doc = self._store.get(request_id)
        return self.state_of(doc) if doc else None

    def state_of(self, doc: Document) -> Document:
        return current(doc, self._store.steps(doc["_id"]))

    def states(self, request_ids: list[str]) -> dict[str, Document]:
        return {
            doc["_id"]: current(doc, self._store.steps(doc["_id"]))
            for doc in self._store.get_many(request_ids)
        }

    def receipts(self, request_id: str) -> list[ReceiptView]:
        docs = sorted(self._store.receipts_of(request_id), key=lambda r: r["received_at"])
        return [ReceiptView.from_doc(doc) for doc in docs]

    def view(self, state: Document) -> RequestView:
        verified = state["kind"] == "erasure" and state["status"] == "complete"
        verification = self._store.last_verification(state["_id"]) if verified else None
        return RequestView.from_doc(state, self.receipts(state["_id"]), verification)

    # -- writing ----------------------------------------------------------------------------
    def insert(self, doc: Document, events: list[Envelope], now: datetime) -> bool:
        """Write a new request, its owners' and staff queues' entries first; False when a
        request with its id exists (nothing is announced then)."""
        self._store.add_owners(Subject.from_doc(doc).owners(), doc["_id"])
        self._index({"status": "", "kind": doc["kind"]}, current(doc, []), now)
        return self._store.insert(doc, events)

    def move(self, doc: Document, decide: Callable[[Document], Step | None]) -> Moved:
        """Append the step ``decide`` asks for on the current state (or nothing: None)."""
        now = datetime.now(UTC)
        seen: dict[str, Document] = {}

        def step_of(steps: list[Document]) -> Step | None:
            seen["old"] = current(doc, steps)
            return decide(seen["old"])

        def before(step: Step) -> None:
            seen["new"] = current(seen["old"], [step.fields])
            self._index(seen["old"], seen["new"], now)

        appended = self._store.log.append_next(doc["_id"], step_of, before)
        if appended.step is None:
            return Moved(seen["old"], False)
        stale = staff_entry_ids(seen["old"]) - staff_entry_ids(seen["new"])
        self._store.remove_staff_entries(sorted(stale))
        return Moved(seen["new"], True)

    def _index(self, old: Document, new: Document, now: datetime) -> None:
        had = set(staff_entries(old)) if old.get("status") else set()
        self._store.add_staff_entries([e for e in staff_entries(new) if e not in had], new["_id"], now)
        if new["status"] in CLOSED_STATUSES and old.get("status") not in CLOSED_STATUSES:
            self._expiries.schedule(CLOSED_EXPIRIES, new["completed_at"] + self._proof, new["_id"])

    def forget_tombstone(self, request_id: str) -> None:
        """A deleted request's last step and any receipt filed while it was deleted."""
        if self._store.get(request_id) is None:
            self._store.delete_steps_and_receipts(request_id)

    def closed_long_enough(self, state: Document, now: datetime) -> bool:
        return (
            state["status"] in CLOSED_STATUSES
            and state.get("completed_at") is not None
            and state["completed_at"] + self._proof <= now
        )

    def delete(self, doc: Document, now: datetime) -> None:
        """Delete a request (in a final state) and everything of it: the document first, so
        whatever still points to it is stale, then its steps, receipts, address, link and
        entries. Its last step stays a day longer: a writer that read the document just
        before finds the request ended there, instead of an empty log it would start anew
        (a confirmation racing the expiry would announce an erasure nobody tracks)."""
        request_id = doc["_id"]
        steps = self._store.steps(request_id)
        self._expiries.schedule(TOMBSTONES, now + TOMBSTONE_AGE, request_id)
        self._store.delete(request_id)
        self._store.delete_steps_and_receipts(request_id, keep_last=True)
        self._store.delete_contact(request_id)
        self._store.delete_alerts(request_id)
        self._store.delete_confirmation(doc.get("confirm_digest", ""))
        self._store.remove_owner_entries(Subject.from_doc(doc).owners(), request_id)
        dues = [doc.get("due_at"), *(step.get("due_at") for step in steps)]
        self._store.remove_staff_entries(possible_entry_ids(request_id, doc["kind"], [d for d in dues if d]))
