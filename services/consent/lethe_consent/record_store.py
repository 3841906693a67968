"""The consent records and what finds them: part of the repository.

Records are steps of one log per person and purpose, ``<subject_key>.<purpose>/<n>``
(:mod:`lethe_common.store.steps`): a person's records are one ``_id`` range, and two
writers deciding from the same latest record (a double click, a page load and a grant
both carrying Sec-GPC) race for the same step number, so exactly one record is written.
A record is never changed, with one exception: the erasure removes e-mail, name and
client address (pseudonymisation); every writer of that change writes the same
fields, so it does not matter which of them lands last.

Records filed with an account id are also found by it: ``<account_id>/keys/<subject_key>``
in ``consent_owners`` names every subject key the account has filed records under (a
changed e-mail address gives a new key). Erasure marks ``<owner>/erased/<time>`` in the
same collection tell a writer that the person was erased while it wrote.
"""

from __future__ import annotations

from datetime import datetime

from lethe_common.events.outbox import Outbox
from lethe_common.mongo import Db, Document
from lethe_common.store.index import OwnerIndex
from lethe_common.store.keys import under
from lethe_common.store.paging import scan
from lethe_common.store.steps import StepLog
from lethe_common.subject import Subject

RECORDS = "consent_records"
OWNERS = "consent_owners"
KEYS = "keys"
ERASED = "erased"
PERSONAL_FIELDS = ("email", "name", "client_address")
# Subject key and purpose in one key part; every key of a person lies in [key + ".", key + "/").
THING_SEP = "."
AFTER_THING_SEP = chr(ord(THING_SEP) + 1)


class RecordStore:
    def __init__(self, db: Db, outbox: Outbox) -> None:
        self._records = db[RECORDS]
        self.log = StepLog(self._records, outbox)
        self._owners = OwnerIndex(db[OWNERS])

    @staticmethod
    def thing(subject_key: str, purpose: str) -> str:
        """The log of one person's records of one purpose (one key part: no ``/``)."""
        return f"{subject_key}{THING_SEP}{purpose}"

    def of_subject(self, subject_key: str) -> list[Document]:
        """Every record filed under ``subject_key``, all purposes (one ``_id`` range)."""
        if not subject_key:
            return []
        start = subject_key + THING_SEP
        return list(scan(self._records, {"$gte": start, "$lt": subject_key + AFTER_THING_SEP}))

    def steps(self, subject_key: str, purpose: str) -> list[Document]:
        return self.log.steps(self.thing(subject_key, purpose))

    # -- which subject keys an account filed records under ---------------------------------
    def note_key(self, subject: Subject) -> None:
        """Remember that the account filed records under the subject key (both set)."""
        if subject.account_id and subject.subject_key:
            self._owners.add(subject.account_id, KEYS, subject.subject_key)

    def keys_of(self, account_id: str) -> list[str]:
        return self._owners.items(account_id, KEYS) if account_id else []

    def forget_keys(self, account_id: str) -> int:
        return self._owners.remove_owner(account_id, KEYS) if account_id else 0

    # -- pseudonymisation and retention -----------------------------------------------------
    def pseudonymise(self, record_id: str, now: datetime) -> bool:
        """Remove the personal fields of one record; every caller removes the same ones."""
        result = self._records.update_one(
            {"_id": record_id, "pseudonymised_at": {"$exists": False}},
            {"$set": {"pseudonymised_at": now}, "$unset": {name: "" for name in PERSONAL_FIELDS}},
        )
        return bool(result.modified_count)

    def delete(self, record_ids: list[str]) -> int:
        if not record_ids:
            return 0
        return int(self._records.delete_many({"_id": {"$in": record_ids}}).deleted_count)

    def delete_through(self, subject_key: str, purpose: str, step_id: str) -> int:
        """Delete one log's steps up to and including ``step_id`` (one ``_id`` range)."""
        first = under(self.thing(subject_key, purpose))["$gte"]
        return int(self._records.delete_many({"_id": {"$gte": first, "$lte": step_id}}).deleted_count)

    # -- erasure marks ----------------------------------------------------------------------
    def mark_erased(self, owner: str, mark: str, at: datetime) -> None:
        if owner:
            self._owners.add(owner, ERASED, mark, at=at)

    def erased_at(self, owner: str) -> list[datetime]:
        return [doc["at"] for doc in self._owners.entries(owner, ERASED)] if owner else []

    def forget_mark(self, owner: str, mark: str) -> bool:
        return self._owners.remove(owner, ERASED, mark) if owner else False
