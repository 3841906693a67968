"""Identity's part of an access or portability request (Art. 15 and 20; SPEC section 4, step 5).

Everything identity holds about one person, found by key as the erasure finds it: the
accounts from the account id and from the address's holder (``addresses/<subject_key>``),
their sessions and verification links through the owner index, contact requests through
``owned/<subject_key>/contact/...``. Secrets never leave: no password hash, no session or
link token, not even their digests (the digest of a session token is its ``_id``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lethe_common.mongo import Document
from lethe_common.privacy_api import wire_time
from lethe_common.subject import Subject
from lethe_identity.models import PortalAccessView
from lethe_identity.repo_access import session_expiry
from lethe_identity.repository import IdentityRepository

PURPOSES = (
    "your customer account: logging in, your profile, your orders and your settings",
    "portal access for the staff of customer organisations",
    "answering your contact and callback requests",
)
LAWFUL_BASES = (
    "Art. 6(1)(b) GDPR: the contract for your customer account",
    "Art. 6(1)(a) GDPR: your consent to open a customer account",
    "Art. 6(1)(f) GDPR: legitimate interest in answering your contact and callback requests",
)
RECIPIENTS: tuple[str, ...] = ()
NOT_INCLUDED = (
    "your password: we keep only a one-way hash of it, which is never handed out",
    "session and e-mail link tokens: they would let anyone holding this file log in as you",
)


def retention(contact_retention_days: int) -> str:
    return (
        "account, profile and portal access: until the account is deleted; sessions: until you "
        "log out or they expire; e-mail links: until used or expired; contact and callback "
        f"requests: until answered, then {contact_retention_days} days"
    )


@dataclass(frozen=True)
class IdentityExport:
    repo: IdentityRepository

    def export(self, subject: Subject) -> dict[str, Any]:
        accounts = [doc for doc in map(self.repo.accounts.account, self._account_ids(subject)) if doc]
        keys = set(subject.all_keys()) | {str(doc.get("subject_key") or "") for doc in accounts}
        keys |= {k for doc in accounts for k in doc.get("former_subject_keys") or ()}
        keys.discard("")
        return {
            "accounts": [self._account(doc) for doc in accounts],
            "contact_requests": [request for key in sorted(keys) for request in self._contacts(key)],
            "staff_actions": [entry for key in sorted(keys) for entry in self._audit(key)],
            "not_included": list(NOT_INCLUDED),
        }

    def _audit(self, subject_key: str) -> list[dict[str, Any]]:
        """What staff did about the person (the audit trail): the action, when and why."""
        return [
            {
                "action": str(doc["action"]),
                "at": wire_time(doc["at"]),
                "reason": str(doc.get("reason", "")),
                "detail": str(doc.get("detail", "")),
            }
            for doc in self.repo.audit.about(subject_key)
        ]

    def _account_ids(self, subject: Subject) -> list[str]:
        found = {subject.account_id} if subject.account_id else set()
        if subject.subject_key:
            claim = self.repo.addresses.holder(subject.subject_key)
            if claim is not None:
                found.add(str(claim["account_id"]))
        return sorted(found)

    def _account(self, doc: Document) -> dict[str, Any]:
        account_id = str(doc["_id"])
        access = PortalAccessView.from_doc(doc.get("portal_access"))
        return {
            "id": account_id,
            "email": doc["email"],
            "pending_email": doc.get("pending_email", ""),
            "name": doc.get("name", ""),
            "phone": doc.get("phone", ""),
            "status": doc.get("status", ""),
            "account_consent_version": doc.get("account_consent_version", ""),
            "created_at": wire_time(doc.get("created_at")),
            "restricted": bool(doc.get("restricted")),
            "portal_access": {
                "status": access.status,
                "organisation_name": access.organisation_name,
                "requested_at": wire_time(access.requested_at),
                "decided_at": wire_time(access.decided_at),
                "reason": access.reason,
            },
            "sessions": self._sessions(account_id),
            "verification_links": self._links(account_id),
        }

    def _sessions(self, account_id: str) -> list[dict[str, Any]]:
        sessions = [self.repo.sessions.get(d) for d in self.repo.owned.items(account_id, "session")]
        return sorted(
            (
                {
                    "started_at": wire_time(s.get("created_at")),
                    "last_seen_at": wire_time(s.get("last_seen_at")),
                    "ends_at": wire_time(session_expiry(s)),
                    "remember_me": bool(s.get("persistent")),
                }
                for s in sessions
                if s is not None and s.get("account_id") == account_id
            ),
            key=lambda s: s["started_at"],
        )

    def _links(self, account_id: str) -> list[dict[str, Any]]:
        links = [self.repo.tokens.get(d) for d in self.repo.owned.items(account_id, "token")]
        return sorted(
            (
                {
                    "purpose": t.get("purpose", ""),
                    "sent_to": t.get("email", ""),
                    "sent_at": wire_time(t.get("created_at")),
                    "expires_at": wire_time(t.get("expires_at")),
                }
                for t in links
                if t is not None and t.get("account_id") == account_id
            ),
            key=lambda t: t["sent_at"],
        )

    def _contacts(self, subject_key: str) -> list[dict[str, Any]]:
        ids = self.repo.owned.items(subject_key, "contact")
        contacts = self.repo.contacts.get_many(ids)
        closures = self.repo.contacts.closures(ids)
        return [
            {
                "id": contact_id,
                "kind": c.get("kind", ""),
                "name": c.get("name", ""),
                "email": c.get("email", ""),
                "phone": c.get("phone", ""),
                "message": c.get("message", ""),
                "status": "closed" if contact_id in closures else "open",
                "created_at": wire_time(c.get("created_at")),
                "closed_at": wire_time(closures[contact_id]["closed_at"]) if contact_id in closures else "",
            }
            for contact_id in sorted(contacts)
            if (c := contacts[contact_id]).get("subject_key") == subject_key
        ]
