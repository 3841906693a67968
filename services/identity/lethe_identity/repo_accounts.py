"""An account's documents, split by writer so that no two writers replace one document.

=====================  ===========================  =========================================
collection             ``_id``                      written by
=====================  ===========================  =========================================
accounts               ``<acc>/base``               registration, once (created_at, consent
                                                    version): the account exists while it does
accounts               ``<acc>/activation``         a unique insert deciding the account's
                                                    fate: ``verified`` (its link) or ``expired``
                                                    (the sweep); exactly one wins
accounts               ``<acc>/portal/<n>``         portal-access steps (StepLog): the person,
                                                    staff, the e-mail change, restrictions
accounts               ``<acc>/staff/<n>``          staff-role changes (StepLog): an admin in
                                                    the back office; each step holds the roles
                                                    after it, who changed them, when and why
accounts               ``<acc>/restriction/<t>/<r>`` restriction and lift events (worker),
                                                    keyed by event time: the latest one wins
profiles               ``<acc>/<v>``                e-mail, name, phone, pending e-mail:
                                                    versions (the person, the e-mail change)
credentials            ``<acc>/<v>``                the password hash: versions (registration,
                                                    log-in rehash)
verification_links     ``<acc>/<purpose>/<v>``      the newest link of each purpose: versions
=====================  ===========================  =========================================

Reading an account, which every logged-in request does, is two index reads: the range of
the account in ``accounts`` and the head of its profile.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from lethe_common.events.envelope import Envelope
from lethe_common.events.outbox import Outbox
from lethe_common.mongo import Db, Document
from lethe_common.store.keys import key, timekey, under
from lethe_common.store.steps import Decide, Step, StepLog
from lethe_common.store.versions import Decide as DecideVersion
from lethe_common.store.versions import Versions
from lethe_identity.models import portal_step

ACCOUNTS = "accounts"
PROFILES = "profiles"
CREDENTIALS = "credentials"
LINKS = "verification_links"
# The unverified-account sweep's queue (in ``expiries``): ``unverified/<due>/<acc>``.
UNVERIFIED_QUEUE = "unverified"
VERIFIED = "verified"
EXPIRED = "expired"
# ``accounts/<acc>/former_key/<time>/<old key>``: an address the account held before.
FORMER_KEY = "former_key"
PORTAL_FIELDS = ("status", "organisation_id", "organisation_name", "requested_at", "decided_at", "reason")


def _rest(account_id: str, doc_id: str) -> str:
    return doc_id[len(account_id) + 1 :]


def compose(account_id: str, parts: Sequence[Document], profile: Document | None) -> Document | None:
    """The account as one document, from its parts (in ``_id`` order) and profile head.
    None when it does not exist: never completed, erased, or expired unverified."""
    base = activation = restriction = None
    portal: list[Document] = []
    staff: list[Document] = []
    former: list[str] = []
    for doc in parts:
        rest = _rest(account_id, str(doc["_id"]))
        if rest == "base":
            base = doc
        elif rest == "activation":
            activation = doc
        elif rest.startswith("portal/"):
            portal.append(doc)
        elif rest.startswith("staff/"):
            staff.append(doc)
        elif rest.startswith(f"{FORMER_KEY}/"):
            former.append(str(doc["old_subject_key"]))
        elif rest.startswith("restriction/"):
            restriction = doc  # keys sort by event time: the last is the latest
    if base is None or profile is None or (activation or {}).get("outcome") == EXPIRED:
        return None
    account: Document = {
        "_id": account_id,
        "email": profile["email"],
        "subject_key": profile["subject_key"],
        "name": profile.get("name", ""),
        "phone": profile.get("phone", ""),
        "status": "active" if activation is not None else "unverified",
        "account_consent_version": base.get("account_consent_version", ""),
        "created_at": base.get("created_at"),
        "restricted": bool(restriction and restriction.get("restricted")),
        "portal_steps": portal,
        "staff_roles": list(staff[-1].get("roles", ())) if staff else [],
        "former_subject_keys": [k for k in dict.fromkeys(former) if k != profile["subject_key"]],
    }
    if profile.get("pending_email"):
        account["pending_email"] = profile["pending_email"]
    access = portal_step(portal)
    if access is not None:
        account["portal_access"] = {name: access[name] for name in PORTAL_FIELDS if name in access}
    return account


class AccountStore:
    def __init__(self, db: Db, outbox: Outbox) -> None:
        self._parts = db[ACCOUNTS]
        self._outbox = outbox
        self.profiles = Versions(db[PROFILES])
        self.credentials = Versions(db[CREDENTIALS])
        self.links = Versions(db[LINKS])
        self.portal = StepLog(db[ACCOUNTS], outbox)
        self.staff = StepLog(db[ACCOUNTS])

    # -- reading ------------------------------------------------------------------------
    def parts(self, account_id: str) -> list[Document]:
        return list(self._parts.find({"_id": under(account_id)}, sort=[("_id", ASCENDING)]))

    def account(self, account_id: str) -> Document | None:
        """The whole account (two index reads), or None."""
        parts = self.parts(account_id)
        if not parts:
            return None
        return compose(account_id, parts, self.profiles.head(account_id))

    def exists(self, account_id: str) -> bool:
        """Whether the account's base is there: an erasure deletes it first, so a writer
        that finds it gone after its own write knows the erasure missed that write."""
        return self._parts.find_one({"_id": key(account_id, "base")}, projection={"_id": 1}) is not None

    def restricted(self, account_id: str) -> bool:
        latest = self._parts.find_one({"_id": under(account_id, "restriction")}, sort=[("_id", DESCENDING)])
        return bool(latest and latest.get("restricted"))

    def former_keys(self, account_id: str) -> list[str]:
        """The keys of the addresses the account held before, oldest first."""
        docs = self._parts.find({"_id": under(account_id, FORMER_KEY)}, sort=[("_id", ASCENDING)])
        return list(dict.fromkeys(str(doc["old_subject_key"]) for doc in docs))

    def activation(self, account_id: str) -> Document | None:
        return self._parts.find_one({"_id": key(account_id, "activation")})

    # -- writing -------------------------------------------------------------------------
    def register(self, account_id: str, base: Document, profile: Document, password_hash: str) -> None:
        """Credentials and profile first, the base last: the account exists once complete."""
        self.credentials.write(account_id, lambda _: Step({"password_hash": password_hash}))
        self.profiles.write(account_id, lambda _: Step(profile))
        self._parts.insert_one({**base, "_id": key(account_id, "base")})

    def settle(self, account_id: str, outcome: str, now: datetime, events: Sequence[Envelope] = ()) -> str:
        """Decide the account's fate once (verified or expired); returns the outcome that
        holds, ours or the one that got there first."""
        doc = {"_id": key(account_id, "activation"), "outcome": outcome, "at": now}
        try:
            self._outbox.insert(self._parts, doc, *events)
        except DuplicateKeyError:
            existing = self.activation(account_id)
            return str((existing or {}).get("outcome", outcome))
        return outcome

    def record_former_key(self, account_id: str, old_key: str, now: datetime, event: Envelope) -> str:
        """Remember that the account held ``old_key`` until ``now``, and publish ``event``
        (``account.email_changed``) with it: one insert, so neither goes without the other.
        Returns the entry's id (for taking it back after an erasure that ran meanwhile)."""
        entry = key(account_id, FORMER_KEY, timekey(now), old_key)
        self._outbox.insert(self._parts, {"_id": entry, "old_subject_key": old_key, "at": now}, event)
        return entry

    def write_profile(self, account_id: str, decide: DecideVersion) -> tuple[Document | None, bool]:
        return self.profiles.write(account_id, decide)

    def append_portal(self, account_id: str, decide: Decide) -> Document | None:
        return self.portal.append_after(key(account_id, "portal"), decide)

    def append_staff(self, account_id: str, decide: Decide) -> Document | None:
        return self.staff.append_after(key(account_id, "staff"), decide)

    def staff_steps(self, account_id: str) -> list[Document]:
        return self.staff.steps(key(account_id, "staff"))

    def delete_part(self, doc_id: str) -> None:
        """Take back one document this writer added to an account that was erased meanwhile."""
        self._parts.delete_one({"_id": doc_id})

    def add_restriction(self, account_id: str, at: datetime, request_id: str, restricted: bool) -> None:
        """Record a restriction or lift at its event time; keep only the latest. Repeats and
        late arrivals change nothing: the latest by time is the state."""
        entry = key(account_id, "restriction", timekey(at), request_id)
        with contextlib.suppress(DuplicateKeyError):
            self._parts.insert_one(
                {"_id": entry, "restricted": restricted, "request_id": request_id, "at": at}
            )
        latest = self._parts.find_one(
            {"_id": under(account_id, "restriction")}, sort=[("_id", DESCENDING)], projection={"_id": 1}
        )
        if latest is not None:  # older entries say nothing any more
            older: dict[str, Any] = {**under(account_id, "restriction"), "$lt": latest["_id"]}
            self._parts.delete_many({"_id": older})

    # -- deleting ------------------------------------------------------------------------
    def delete_base(self, account_id: str) -> int:
        return int(self._parts.delete_one({"_id": key(account_id, "base")}).deleted_count)

    def delete_rest(self, account_id: str) -> int:
        """Everything else of the account, after its base (and its sessions and links)."""
        for versions in (self.credentials, self.links, self.profiles):
            versions.delete(account_id)
        return int(self._parts.delete_many({"_id": under(account_id)}).deleted_count)
