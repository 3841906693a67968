"""The worker's retention sweep: whatever falls due in the ``expiries`` queues.

Every item that expires was put in a queue (``expiries/<queue>/<due>/<item>``) before it
was written, so the sweep reads only what is due, one ``_id`` range a queue, whatever the
size of the collections. An entry may be stale (the item is gone, or its expiry moved):
each one is checked against its item, re-scheduled when the item now expires later, and
taken out of the queue once handled. Worker replicas may sweep at once: every step is
idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from pymongo.errors import PyMongoError

from lethe_common.mongo import Document
from lethe_common.store.keys import key
from lethe_common.subject import Subject
from lethe_identity.config import IdentityConfig
from lethe_identity.models import ACTIVATE, utcnow
from lethe_identity.repo_access import ATTEMPT_QUEUE, SESSION_QUEUE, TOKEN_QUEUE, session_expiry
from lethe_identity.repo_accounts import EXPIRED, UNVERIFIED_QUEUE, VERIFIED
from lethe_identity.repo_contacts import EXPIRY_QUEUE
from lethe_identity.repository import IdentityRepository

log = logging.getLogger(__name__)
BATCHES = 20  # at most this many pages of due entries a queue per run


class Retention:
    def __init__(
        self, repo: IdentityRepository, config: IdentityConfig, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._repo = repo
        self._clock = clock
        self._ttl = timedelta(minutes=config.verification_ttl_minutes)
        self._audit_days = config.common.audit_retention_days
        self._handlers: dict[str, Callable[[Document, datetime], bool]] = {
            SESSION_QUEUE: self._session,
            TOKEN_QUEUE: self._token,
            ATTEMPT_QUEUE: self._attempt,
            UNVERIFIED_QUEUE: self._unverified,
            EXPIRY_QUEUE: self._contact,
        }

    def run(self) -> dict[str, int]:
        """Delete what has outlived its purpose; counts only, never whose."""
        now = self._clock()
        counts = {queue: self._drain(queue, handle, now) for queue, handle in self._handlers.items()}
        counts["staff_audit"] = self._repo.audit.sweep(now, self._audit_days)
        return counts

    def _drain(self, queue: str, handle: Callable[[Document, datetime], bool], now: datetime) -> int:
        deleted = 0
        for _ in range(BATCHES):
            entries = self._repo.expiries.due(queue, now)
            for entry in entries:
                try:
                    deleted += handle(entry, now)
                except PyMongoError:
                    raise  # the store is away: the whole run is tried again later
                except Exception:  # one bad entry must not hold up the rest
                    log.exception("sweep entry failed", extra={"queue": queue})
                    continue
                self._repo.expiries.remove(str(entry["_id"]))
            if not entries:
                break
        return deleted

    def _session(self, entry: Document, now: datetime) -> bool:
        digest, account_id = str(entry["item"]), str(entry.get("account_id", ""))
        session = self._repo.sessions.get(digest)
        if session is not None and session_expiry(session) > now:
            self._repo.sessions.reschedule(session)  # used since: due later
            return False
        return self._repo.sessions.end(digest, account_id or str((session or {}).get("account_id", "")))

    def _token(self, entry: Document, now: datetime) -> bool:
        return self._repo.tokens.delete(str(entry["item"]), str(entry.get("account_id", "")))

    def _attempt(self, entry: Document, now: datetime) -> bool:
        return self._repo.attempts.delete(str(entry.get("attempt", "")))

    def _contact(self, entry: Document, now: datetime) -> bool:
        return self._repo.contacts.expire(str(entry["item"]))

    def _unverified(self, entry: Document, now: datetime) -> bool:
        """An account never verified goes once its newest activation link has expired; the
        fate is decided by one unique key, so a link used at this moment wins or loses
        cleanly. Its address is free again."""
        account_id = str(entry["item"])
        activation = self._repo.accounts.activation(account_id)
        if activation is None:
            link = self._repo.accounts.links.head(key(account_id, ACTIVATE))
            if link is not None and link["expires_at"] > now:  # a newer link was sent
                self._repo.expiries.schedule(
                    UNVERIFIED_QUEUE, link["expires_at"], account_id, subject_key=entry.get("subject_key", "")
                )
                return False
            outcome = self._repo.accounts.settle(account_id, EXPIRED, now)
        else:
            outcome = str(activation.get("outcome", VERIFIED))
        if outcome == VERIFIED:
            return False
        deleted = self._repo.delete_account(account_id)["accounts"]
        if entry.get("subject_key"):
            self._repo.addresses.release(
                Subject(account_id=account_id, subject_key=str(entry["subject_key"]))
            )
        return bool(deleted)
