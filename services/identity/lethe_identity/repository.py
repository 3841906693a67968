"""The only code that touches the identity service's collections.

Every read the service makes while it serves is by ``_id``: one key, a few keys, or one
key range (docs/architecture.md, "Every query" lists each). No document has two writers that
replace it: what several parties change is kept as versions or steps (a unique insert
decides who was first), or as one document per writer. The stores:

- :mod:`repo_accounts`: an account's parts (base, fate, portal steps, restrictions,
  profile, password, newest links);
- :mod:`repo_addresses`: which account holds an e-mail address;
- :mod:`repo_access`: sessions, verification tokens, log-in attempts;
- :mod:`repo_portal`: organisations, their domains, the portal-request lists;
- :mod:`repo_contacts`: contact requests, their closing, restrictions by person.

Index documents (``owned``: what a person has; ``expiries``: what falls due;
``staff_queues``: staff lists) come from :mod:`lethe_common.store.index`.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from pymongo.errors import DuplicateKeyError

from lethe_common.audit import AUDIT, AuditTrail
from lethe_common.events.outbox import Outbox
from lethe_common.mongo import Db, RetiredIndex
from lethe_common.privacy import RECEIPT_INDEXES
from lethe_common.store.index import OwnerIndex, TimeQueue
from lethe_identity.repo_access import AttemptStore, SessionStore, TokenStore
from lethe_identity.repo_accounts import ACCOUNTS, AccountStore
from lethe_identity.repo_addresses import AddressBook
from lethe_identity.repo_contacts import CONTACTS, ContactStore
from lethe_identity.repo_portal import OrganisationStore

OWNED = "owned"
EXPIRIES = "expiries"
STAFF_QUEUES = "staff_queues"
TOMBSTONES = "erasure_tombstones"
STAFF_MEMBERS = "staff_members"

# Every key is an _id now: the secondary indexes of the earlier layout go at start-up.
INDEXES = [
    RetiredIndex(ACCOUNTS, "subject_key_1"),
    RetiredIndex(ACCOUNTS, "portal_access.status_1"),
    RetiredIndex(ACCOUNTS, "_outbox_due_1"),
    RetiredIndex("verification_tokens", "expires_at_1"),
    RetiredIndex("verification_tokens", "account_id_1"),
    RetiredIndex("used_tokens", "expires_at_1"),
    RetiredIndex("sessions", "account_id_1"),
    RetiredIndex("sessions", "absolute_expires_at_1"),
    RetiredIndex("attempts", "key_1_at_1"),
    RetiredIndex("attempts", "expires_at_1"),
    RetiredIndex(CONTACTS, "status_1_created_at_-1"),
    RetiredIndex(CONTACTS, "subject_key_1"),
    *RECEIPT_INDEXES,
]


class IdentityRepository:
    def __init__(self, db: Db, outbox: Outbox) -> None:
        self.owned = OwnerIndex(db[OWNED])
        self.expiries = TimeQueue(db[EXPIRIES])
        self.queues = TimeQueue(db[STAFF_QUEUES])
        self.accounts = AccountStore(db, outbox)
        self.addresses = AddressBook(db)
        self.sessions = SessionStore(db, self.owned, self.expiries)
        self.tokens = TokenStore(db, self.owned, self.expiries)
        self.attempts = AttemptStore(db, self.expiries)
        self.organisations = OrganisationStore(db, self.queues)
        self.contacts = ContactStore(db, self.owned, self.queues, self.expiries)
        self._tombstones = db[TOMBSTONES]
        self._staff_members = db[STAFF_MEMBERS]
        self.audit = AuditTrail(db[AUDIT])

    def delete_account(self, account_id: str) -> dict[str, int]:
        """Delete an account and all it has, in an order that concurrent writers can rely
        on: the base first (a writer that finds it gone after its own write takes that
        write back), then sessions and links through the owner index (each item before
        its entry), then the rest. Idempotent; the caller frees the e-mail addresses."""
        gone = self.accounts.delete_base(account_id)
        counts = {"sessions": 0, "verification_links": 0}
        for entry in list(self.owned.entries(account_id)):
            _, kind, item = str(entry["_id"]).split("/")
            if kind == "session":
                counts["sessions"] += self.sessions.end(item, account_id)
            elif kind == "token":
                counts["verification_links"] += self.tokens.delete(item, account_id)
        self.accounts.delete_rest(account_id)
        self._staff_members.delete_one({"_id": account_id})
        self.owned.remove_owner(account_id)
        return {**counts, "accounts": gone}

    def end_sessions(self, account_id: str, keep: str = "") -> int:
        """End every session of the account but the one whose digest is ``keep`` (a
        password reset or change), found through the owner index; how many ended."""
        return sum(
            self.sessions.end(digest, account_id)
            for digest in self.owned.items(account_id, "session")
            if digest != keep
        )

    # -- the staff list: ``staff_members``, one document per account that holds a granted
    # role (the roles themselves are the account's staff steps; this only finds them) --
    def list_staff(self, account_id: str, holds_roles: bool) -> None:
        if holds_roles:
            self._staff_members.replace_one({"_id": account_id}, {"_id": account_id}, upsert=True)
        else:
            self._staff_members.delete_one({"_id": account_id})

    def staff_ids(self) -> list[str]:
        return [str(doc["_id"]) for doc in self._staff_members.find({}, sort=[("_id", 1)])]

    def tombstone(self, request_id: str, now: datetime) -> None:
        """Proof of an erasure: the request id and the time, nothing of the person (consent's
        request says whom it concerned, for as long as its proof is kept)."""
        with contextlib.suppress(DuplicateKeyError):  # a repeat of the same request
            self._tombstones.insert_one({"_id": request_id, "erased_at": now})
