"""Which account holds an e-mail address: ``addresses/<subject_key>/<v>``.

Each address's holder is a versioned document (``{account_id, claimed_at}`` or
``{released: true}``), so registration, an e-mail change and the release of an address
(erasure, the unverified-account sweep, the old address after a change) are each a
compare-and-set: two people registering one address at once, or a registration racing
the release, end with exactly one holder. Log-in and resend find the account by this one
lookup (no scan of the accounts).

A claim is written *before* the account that holds it. A claim whose account never came
(a crash in between) or has moved on to another address is stale: the unverified-account
sweep releases it, and a registration that finds it older than a grace period takes it
over (its own compare-and-set), so no address is blocked for good.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from lethe_common.errors import AlreadyExists
from lethe_common.mongo import Db, Document
from lethe_common.store.steps import Step
from lethe_common.store.versions import Versions
from lethe_common.subject import Subject

ADDRESSES = "addresses"
TAKEN = "an account with this e-mail address already exists"


class AddressBook:
    def __init__(self, db: Db) -> None:
        self._versions = Versions(db[ADDRESSES])

    def holder(self, subject_key: str) -> Document | None:
        """The current claim on the address (``account_id``, ``claimed_at``), or None."""
        head = self._versions.head(subject_key)
        return None if head is None or head.get("released") else head

    def claim(self, holder: Subject, now: datetime, is_stale: Callable[[Document], bool]) -> None:
        """Make ``holder``'s account the holder of ``holder``'s address (its subject key),
        unless another account holds it (AlreadyExists). Holding it already changes nothing."""

        def decide(head: Document | None) -> Step | None:
            if head is not None and not head.get("released"):
                if head.get("account_id") == holder.account_id:
                    return None
                if not is_stale(head):
                    raise AlreadyExists(TAKEN)
            return Step({"account_id": holder.account_id, "claimed_at": now})

        self._versions.write(holder.subject_key, decide)

    def release(self, holder: Subject) -> bool:
        """Free ``holder``'s address if ``holder``'s account holds it; False if it did not."""

        def decide(head: Document | None) -> Step | None:
            if head is None or head.get("released") or head.get("account_id") != holder.account_id:
                return None
            return Step({"released": True})

        _, released = self._versions.write(holder.subject_key, decide)
        return released

    def forget(self, subject_key: str) -> int:
        """Delete a released address's claim with all its versions (their keys name the
        address's subject_key); a claim someone holds stays. The versions' rule that numbers
        are never reused matters only while the claim is contended: a released one is not."""
        head = self._versions.head(subject_key)
        if head is not None and not head.get("released"):
            return 0
        return self._versions.delete(subject_key)
