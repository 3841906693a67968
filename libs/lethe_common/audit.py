"""The staff audit trail: who did what to whom, when and why; staff cannot change it.

Each service keeps the entries of the staff actions it carries out, in its own store
beside the data they touched (``staff_audit``), so an action and its entry live and die
with the same database. There is no RPC that changes or deletes an entry: they are
inserted once, trimmed when the person they concern is erased (the entry keeps the
subject key, the action, the actor and the time, nothing else), and deleted only by the
retention sweep when they are older than ``LETHE_AUDIT_RETENTION_DAYS`` (3 years by
default).

Keys (reads by ``_id`` only, as everywhere in Lethe):
- ``t/<timekey>/<id>``: every entry, so a page, newest first, is one key range;
- ``a/<action>/<timekey>/<id>``: the same entry under its action (a page of legal-hold
  reads, say);
- ``s/<subject key>/<timekey>/<id>``: the same entry under the person it concerns, for
  their export and their erasure.

The copies are written before the entry, so an entry in the trail always has its copies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lethe_common import tokens
from lethe_common.mongo import Coll, Document
from lethe_common.store.keys import key, timekey, under
from lethe_common.store.paging import Page, page, scan

AUDIT = "staff_audit"
DEFAULT_RETENTION_DAYS = 3 * 365
_TRIMMED = ("target", "reason", "detail")


@dataclass(frozen=True)
class AuditRecord:
    """One staff action. ``reason`` and ``detail`` are shown to staff who may read the trail;
    ``detail`` holds no personal data (a role, a status)."""

    actor_id: str
    action: str
    target: str = ""
    subject_key: str = ""
    reason: str = ""
    detail: str = ""


class AuditTrail:
    def __init__(self, collection: Coll) -> None:
        self._collection = collection

    def record(self, entry: AuditRecord, at: datetime | None = None) -> Document:
        moment = at or datetime.now(UTC)
        entry_id = tokens.new_id("aud")
        when = timekey(moment)  # kept: BSON times lose the microseconds the key has
        doc: Document = {
            "entry_id": entry_id,
            "tkey": when,
            "at": moment,
            "actor_id": entry.actor_id,
            "action": entry.action,
            "target": entry.target,
            "subject_key": entry.subject_key,
            "reason": entry.reason,
            "detail": entry.detail,
        }
        for copy in _copies(doc):
            self._collection.insert_one({**doc, "_id": copy})
        self._collection.insert_one({**doc, "_id": key("t", when, entry_id)})
        return doc

    def page(self, after: str = "", limit: int = 50, action: str = "") -> Page:
        """One page of the trail (of one action, if named), newest first."""
        scope = under("a", action) if action else under("t")
        return page(self._collection, scope, after=after, limit=limit, descending=True)

    def about(self, subject_key: str) -> list[Document]:
        """Every entry about one person, oldest first (their export)."""
        return list(scan(self._collection, under("s", subject_key)))

    def forget(self, subject_key: str) -> int:
        """The person is erased: their entries keep the subject key, the action, the actor
        and the time; the target, reason and detail go. How many entries were trimmed."""
        trimmed = 0
        blank = {"$set": dict.fromkeys(_TRIMMED, "")}
        for doc in self.about(subject_key):
            if not any(doc.get(field) for field in _TRIMMED):
                continue  # trimmed by an earlier erasure message
            entry = key("t", str(doc["tkey"]), str(doc["entry_id"]))
            for doc_id in (entry, *_copies(doc)):
                self._collection.update_one({"_id": doc_id}, blank)
            trimmed += 1
        return trimmed

    def sweep(self, now: datetime, retention_days: int) -> int:
        """Delete entries older than the retention; how many entries (not copies) went."""
        cutoff = timekey(now - timedelta(days=retention_days))
        old = {"$gte": "t/", "$lt": f"t/{cutoff}"}
        gone = 0
        for doc in list(scan(self._collection, old)):
            for copy in _copies(doc):
                self._collection.delete_one({"_id": copy})
            gone += int(self._collection.delete_one({"_id": doc["_id"]}).deleted_count)
        return gone


def _copies(doc: Document) -> list[str]:
    """The keys of an entry's copies: under its action, and under its person if any."""
    when, entry_id = str(doc["tkey"]), str(doc["entry_id"])
    found = [key("a", str(doc["action"]), when, entry_id)]
    if doc.get("subject_key"):
        found.append(key("s", str(doc["subject_key"]), when, entry_id))
    return found
