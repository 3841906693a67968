"""Append-only step logs: many writers change one thing, and none is lost or applied twice.

A thing that several processes change (an order moved by the payment answer, the
provider's notification and staff; a privacy request moved by every service's receipt
and by staff) keeps its changes as numbered steps ``<thing>/<number>``. Its state is its
steps read in order. A writer reads the steps, decides the next one from them, and
inserts it under the next number: when two writers decide at once, the store's unique
``_id`` lets exactly one insert succeed, and the other reads again and decides anew
(perhaps that nothing is left to do). This is a compare-and-set built on the one write
every store makes atomic, so it holds on FerretDB, where updates are a read and a
replace, exactly as on MongoDB.

Steps are never changed; a thing's steps are deleted together when the thing goes, or its
oldest ones when their time is over (the next number follows the last step, never a count).
A thing may be a composite key (``<account>/portal``), so its steps sit in its owner's range.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymongo.errors import DuplicateKeyError

from lethe_common.errors import Aborted
from lethe_common.events.envelope import Envelope
from lethe_common.events.outbox import Outbox
from lethe_common.mongo import Coll, Document
from lethe_common.store.keys import SEP, key, seqkey, under
from lethe_common.store.paging import scan

MAX_ATTEMPTS = 20


class Contended(Aborted):
    """Other writers kept winning; the caller may try again later."""


@dataclass(frozen=True)
class Step:
    """The next step to append and the events that announce it."""

    fields: Document
    events: Sequence[Envelope] = field(default_factory=tuple)


Decide = Callable[[list[Document]], Step | None]


@dataclass(frozen=True)
class Appended:
    """What an append did: the step written (None: nothing to do) and the steps the last
    decision was made on."""

    step: Document | None
    previous: list[Document] = field(default_factory=list)


class StepLog:
    """The steps of every thing in one collection: ``<thing>/<8-digit number>``."""

    def __init__(self, collection: Coll, outbox: Outbox | None = None) -> None:
        self._collection = collection
        self._outbox = outbox

    @staticmethod
    def step_id(thing: str, number: int) -> str:
        return key(*thing.split(SEP), seqkey(number))

    def steps(self, thing: str) -> list[Document]:
        """Every step of ``thing``, first to last (one ``_id`` range)."""
        return list(scan(self._collection, under(*thing.split(SEP))))

    def steps_of(self, things: Sequence[str]) -> dict[str, list[Document]]:
        """The steps of several things, each first to last."""
        return {thing: self.steps(thing) for thing in things}

    def append(self, thing: str, number: int, step: Step) -> bool:
        """Insert step ``number`` of ``thing``; False when another writer took that number."""
        doc = {**step.fields, "_id": self.step_id(thing, number), "n": number}
        try:
            if self._outbox is not None and step.events:
                self._outbox.insert(self._collection, doc, *step.events)
            else:
                self._collection.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    def append_after(self, thing: str, decide: Decide) -> Document | None:
        """Read ``thing``'s steps, let ``decide`` name the next one (or None: nothing to do),
        and append it; when another writer got there first, read and decide again.

        Returns the appended step, or None when ``decide`` found nothing to do. ``decide``
        may raise a domain error (the move is not allowed in the state it sees).
        """
        return self.append_next(thing, decide).step

    def append_next(
        self, thing: str, decide: Decide, before: Callable[[Step], None] | None = None
    ) -> Appended:
        """As :meth:`append_after`, and also the steps the decision was made on; ``before``
        runs once a step is decided and before it is inserted (index entries written there
        exist before the step they point to)."""
        for _ in range(MAX_ATTEMPTS):
            steps = self.steps(thing)
            step = decide(steps)
            if step is None:
                return Appended(None, steps)
            number = next_number(steps)
            if before is not None:
                before(step)
            if self.append(thing, number, step):
                return Appended({**step.fields, "_id": self.step_id(thing, number), "n": number}, steps)
        raise Contended("this was changed by others many times at once; please try again")

    def delete(self, thing: str) -> int:
        """Delete every step of ``thing`` (when the thing itself goes)."""
        return int(self._collection.delete_many({"_id": under(*thing.split(SEP))}).deleted_count)


def next_number(steps: list[Document]) -> int:
    """The number after the last step: old steps may have been pruned, so never a count.
    (A thing whose steps are pruned keeps at least its last one, or numbers would restart.)"""
    return int(steps[-1]["n"]) + 1 if steps else 0


def last(steps: list[Document], default: Any = None) -> Any:
    return steps[-1] if steps else default
