"""A subscriber's state, read from its steps (pure: no store, no clock).

Every address has one subscriber id, derived from its subject_key, and one step log
``<subscriber id>/<number>`` (``lethe_common.store.steps``). Whoever moves the
subscription (the person subscribing, confirming or leaving; the worker handling an
erasure or a withdrawal; the sweeps) appends one step after reading the ones before it,
so two moves at once never overwrite each other: the store's unique ``_id`` lets one
win and the other reads again and decides anew.

A *life* is the steps from a ``requested`` step to the ``ended`` step that closes it:

    requested → (reminded)* → confirming → confirm_failed | confirmed → left → ended
                                                                        ↘ ended

When a life ends, every step before its ``ended`` step is deleted (address, name, the
send log go with them); the ``ended`` step stays behind as a tombstone without personal
data, so step numbers are never used twice and a writer still holding an old read can
never add a step to the next life.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from lethe_common.mongo import Document
from lethe_common.subject import Subject

REQUESTED = "requested"
REMINDED = "reminded"
CONFIRMING = "confirming"
CONFIRM_FAILED = "confirm_failed"
CONFIRMED = "confirmed"
LEFT = "left"
ENDED = "ended"

# Statuses of a life.
NONE = "none"
PENDING = "pending"
ACTIVE = "active"
LEAVING = "leaving"  # unsubscribed; the withdrawal is still to be recorded with consent

# Fields a reminder may change.
REMINDER_FIELDS = ("consent_version", "name", "account_id", "requested_at", "confirmation_requested_at")


def subscriber_id(subject_key: str) -> str:
    """The one subscriber id of an address: derived from its keyed hash, one way."""
    digest = hashlib.sha256(f"newsletter-subscriber/{subject_key}".encode()).hexdigest()
    return f"sub_{digest[:32]}"


@dataclass
class Life:
    """The current subscription of one address (status ``none`` when there is none)."""

    subscriber_id: str
    status: str = NONE
    subject_key: str = ""
    email: str = ""
    name: str = ""
    account_id: str = ""
    consent_version: str = ""
    pending_since: int = 0
    requested_at: datetime | None = None
    confirmation_requested_at: datetime | None = None
    confirmed_at: datetime | None = None
    consent_record_id: str = ""
    unsubscribed_at: datetime | None = None
    client_address: str = ""
    claim: str = ""  # the confirmation under way (its consent grant is being recorded)
    claimed_at: datetime | None = None
    last_n: int = -1  # number of the log's last step; -1 for an empty log
    ended_n: int = -1  # number of the last tombstone
    ended_reason: str = ""
    ended_request: str = ""
    ended_key: str = ""  # an erasure's tombstone keeps the keyed hash it suppressed
    steps: int = 0  # steps of the current life

    @property
    def live(self) -> bool:
        return self.status != NONE

    @property
    def pending(self) -> bool:
        """Waiting for the person's confirmation (one may be being recorded)."""
        return self.status in (PENDING, CONFIRMING)

    def owners(self) -> list[str]:
        """Whom a restriction of this subscription may name: its address and its account."""
        return Subject(account_id=self.account_id, subject_key=self.subject_key).owners()


def _start(life: Life, step: Document) -> Life:
    return Life(
        life.subscriber_id,
        PENDING,
        step["subject_key"],
        step["email"],
        step.get("name", ""),
        step.get("account_id", ""),
        step["consent_version"],
        int(step["pending_since"]),
        step["requested_at"],
        step.get("confirmation_requested_at"),
        client_address=step.get("client_address", ""),
        ended_n=life.ended_n,
        ended_reason=life.ended_reason,
        ended_request=life.ended_request,
        ended_key=life.ended_key,
    )


def _end(life: Life, step: Document) -> Life:
    return Life(
        life.subscriber_id,
        ended_n=int(step["n"]),
        ended_reason=step.get("reason", ""),
        ended_request=step.get("request_id", ""),
        ended_key=step.get("subject_key", ""),
    )


def _apply(life: Life, step: Document) -> Life:
    kind = step.get("kind")
    if kind == REQUESTED:
        return _start(life, step)
    if kind == ENDED:
        return _end(life, step)
    if not life.live:
        return life  # a stray step of a life that is gone
    if kind == REMINDED and life.pending:
        for name in REMINDER_FIELDS:
            if name in step:
                setattr(life, name, step[name])
    elif kind == CONFIRMING and life.pending:  # a new claim, or one taken over from a crash
        life.status, life.claim, life.claimed_at = CONFIRMING, step["claim"], step["at"]
    elif kind == CONFIRM_FAILED and life.status == CONFIRMING and step["claim"] == life.claim:
        life.status, life.claim, life.claimed_at = PENDING, "", None
    elif kind == CONFIRMED and life.status == CONFIRMING and step["claim"] == life.claim:
        life.status, life.confirmed_at = ACTIVE, step["at"]
        life.consent_record_id, life.claim = step.get("consent_record_id", ""), ""
    elif kind == LEFT and life.status in (ACTIVE, CONFIRMING):
        life.status, life.unsubscribed_at = LEAVING, step["at"]
    return life


def fold(subscriber: str, steps: list[Document]) -> Life:
    """The state the steps, read in order, leave the subscriber in."""
    life = Life(subscriber)
    for step in steps:
        life = after(life, step)
    return life


def after(life: Life, step: Document) -> Life:
    """The state after one more step (``life`` itself is left as it was)."""
    moved = _apply(replace(life), step)
    moved.last_n = int(step["n"])
    moved.steps = moved.steps + 1 if moved.live else 0
    return moved


def is_restricted(life: Life, latest: dict[str, Document]) -> bool:
    """Whether the latest restriction event naming the subscription's address or account
    restricted it (``latest``: owner → its latest entry, from the repository)."""
    entries = [latest[owner] for owner in life.owners() if owner in latest]
    if not entries:
        return False
    newest = max(entries, key=lambda entry: str(entry["_id"]).split("/", 1)[1])
    return bool(newest.get("restricted"))


def step(kind: str, **fields: Any) -> Document:
    """The fields of a new step (the log adds ``_id`` and ``n``)."""
    return {"kind": kind, **fields}
