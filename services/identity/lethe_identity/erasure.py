"""Identity's part of an erasure or restriction (SPEC section 3, first two rows).

Erasure deletes the account, its sessions and links, and the person's contact
requests at once; a tombstone keeps only subject_key, request id and time.
Restriction marks the account: log-in still works, staff cannot change it,
and the person's contact requests leave staff queues until it is lifted.

Everything is found by key: the account from the event's account id and from the
address's holder (``addresses/<subject_key>``), its items through the owner index,
contact requests through ``owned/<subject_key>/contact/...``. Both handlers are
idempotent (a repeated event changes nothing and sends no second receipt).
A restriction and its lift are recorded at the time consent published them, and the
latest by that time holds: whichever of the two events arrives last (a retry, another
worker replica), the state is the one the person asked for last.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from lethe_common.audit import AUDIT, DEFAULT_RETENTION_DAYS
from lethe_common.errors import NotFound
from lethe_common.privacy import (
    PrivacyEvent,
    Receipt,
    ReceiptSender,
    RestrictionWording,
    Retained,
    restriction_receipt,
)
from lethe_common.subject import Subject
from lethe_common.traces import fingerprints
from lethe_identity.portal import Portal
from lethe_identity.repository import EXPIRIES, IdentityRepository

log = logging.getLogger(__name__)

RESTRICTION = RestrictionWording(
    blocked=(
        "account: no marketing, no profiling, no changes by staff; log-in still allowed",
        "contact and callback requests: hidden from staff queues",
    ),
    restricted="{count} accounts",
    lifted="restriction lifted: account and contact requests as before",
)


AUDIT_KEPT = (
    "the staff audit entries about you: what staff did and when, under your subject key only "
    "(no reason, no name), as proof of how your data was handled, Art. 5(2) GDPR",
)


class IdentityErasure:
    def __init__(
        self,
        repo: IdentityRepository,
        receipts: ReceiptSender,
        portal: Portal,
        pepper: str,
        expiry_bound: timedelta,
        audit_retention: timedelta = timedelta(days=DEFAULT_RETENTION_DAYS),
    ) -> None:
        self._audit_retention = audit_retention
        self._pepper = pepper
        self._expiry_bound = expiry_bound
        self._repo = repo
        self._receipts = receipts
        self._portal = portal

    def _accounts_of(self, request: PrivacyEvent) -> list[str]:
        """The person's accounts: the one the request names and the one holding the address."""
        person = request.subject
        found = {person.account_id} if person.account_id else set()
        claim = self._repo.addresses.holder(person.subject_key)
        if claim is not None:
            found.add(str(claim["account_id"]))
        return sorted(found)

    def erase(self, request: PrivacyEvent, now: datetime | None = None) -> Receipt:
        now = now or datetime.now(UTC)
        counts = {"accounts": 0, "sessions": 0, "verification_links": 0, "contact_requests": 0}
        request_key = request.subject.subject_key
        keys = set(request.subject.all_keys())
        names: list[str] = []
        phones: list[str] = []
        for account_id in self._accounts_of(request):
            profile = self._repo.accounts.profiles.head(account_id)
            names.append(str((profile or {}).get("name") or ""))
            phones.append(str((profile or {}).get("phone") or ""))
            held = {request_key, str((profile or {}).get("subject_key") or "")} - {""}
            held |= set(self._repo.accounts.former_keys(account_id))
            for what, count in self._repo.delete_account(account_id).items():
                counts[what] += count
            for address_key in held:
                self._repo.addresses.release(Subject(account_id=account_id, subject_key=address_key))
                self._repo.addresses.forget(address_key)
            keys |= held
        for subject in keys:
            counts["contact_requests"] += self._repo.contacts.erase_of(subject)
            self._repo.contacts.forget_restrictions(subject)
            self._repo.audit.forget(subject)
        audited = any(self._repo.audit.about(subject) for subject in keys)
        self._repo.tombstone(request.request_id, now)
        receipt = Receipt(
            request_id=request.request_id,
            kind="erasure",
            deleted=(
                "account (e-mail address, name, phone, password hash, portal access)",
                "sessions and e-mail verification links",
                "contact and callback requests",
            ),
            kept=(
                "the request id and the time of the erasure: proof that it was carried out, Art. 5(2) GDPR",
                *(AUDIT_KEPT if audited else ()),
            ),
            note=", ".join(f"{count} {what}" for what, count in counts.items()),
            fingerprints=fingerprints(self._pepper, names=names, phones=phones),
            # The deleted sessions' and links' expiry entries name the account id until they
            # fall due and the sweep takes them out: the longest lifetime at most.
            retained=(
                Retained(EXPIRIES, (now + self._expiry_bound).date().isoformat()),
                *((Retained(AUDIT, (now + self._audit_retention).date().isoformat()),) if audited else ()),
            ),
        )
        self._receipts.send(receipt, request_key)
        log.info("erasure handled", extra={"request_id": request.request_id, **counts})
        return receipt

    def restrict(self, request: PrivacyEvent) -> Receipt:
        """Record the restriction (or lift) at the time consent published it."""
        at = request.occurred_at
        restricted = request.kind == "restriction"
        # Contact requests first, the account last: once the account (what the profile
        # shows) says restricted or lifted, the staff queue already agrees.
        for subject_key in request.subject.all_keys():
            self._repo.contacts.restrict(subject_key, at, request.request_id, restricted)
        accounts = self._restrict_accounts(self._accounts_of(request), at, request.request_id, restricted)
        receipt = restriction_receipt(request, accounts, RESTRICTION)
        self._receipts.send(receipt, request.subject.subject_key)
        return receipt

    def _restrict_accounts(
        self, account_ids: Sequence[str], at: datetime, request_id: str, restricted: bool
    ) -> int:
        done = 0
        for account_id in account_ids:
            if not self._repo.accounts.exists(account_id):
                continue
            self._repo.accounts.add_restriction(account_id, at, request_id, restricted)
            with contextlib.suppress(NotFound):  # erased meanwhile: see below
                self._portal.restriction_changed(account_id, restricted, at)
            if not self._repo.accounts.exists(account_id):  # erased meanwhile
                self._repo.accounts.delete_rest(account_id)
                continue
            done += 1
        return done
