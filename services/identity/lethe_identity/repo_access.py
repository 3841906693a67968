"""Sessions, verification tokens and log-in attempts: each found by its own ``_id``.

==================== ======================================== ==============================
collection           ``_id``                                  found by
==================== ======================================== ==============================
sessions             SHA-256 of the session token             the cookie (Authenticate)
session_confirmations the same digest                         when the password was last entered
                                                              again (step-up; its one writer)
verification_tokens  SHA-256 of the link's token              the link (VerifyEmail)
used_tokens          the same digest                          a unique insert: a link works once
attempts             ``<limiter>/<key>/<time>/<random>``      a window of one key = one range
owned                ``<account>/session|token/<digest>``     an account's sessions and links
                                                              (erasure), written before the item
expiries             ``session|token|attempt/<time>/<item>``  the sweep, by due time
==================== ======================================== ==============================

Every item is written after its index entries (``owned``, ``expiries``) and deleted before
them, so the indexes always hold at least every item; the sweep re-checks each entry.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from lethe_common.mongo import Db, Document
from lethe_common.store.index import OwnerIndex, TimeQueue
from lethe_common.store.keys import from_timekey, key, timekey, under

SESSIONS = "sessions"
CONFIRMATIONS = "session_confirmations"
TOKENS = "verification_tokens"
USED_TOKENS = "used_tokens"
ATTEMPTS = "attempts"
SESSION_QUEUE = "session"
TOKEN_QUEUE = "token"  # noqa: S105 (a queue name)
ATTEMPT_QUEUE = "attempt"


def session_expiry(session: Document) -> datetime:
    """When a session ends unless it is used again."""
    return min(session["idle_expires_at"], session["absolute_expires_at"])  # type: ignore[no-any-return]


class SessionStore:
    def __init__(self, db: Db, owned: OwnerIndex, expiries: TimeQueue) -> None:
        self._sessions = db[SESSIONS]
        self._confirmations = db[CONFIRMATIONS]
        self._owned = owned
        self._expiries = expiries

    def open(self, session: Document) -> None:
        account_id, digest = str(session["account_id"]), str(session["_id"])
        self._expiries.schedule(SESSION_QUEUE, session_expiry(session), digest, account_id=account_id)
        self._owned.add(account_id, "session", digest)
        self._sessions.insert_one(session)

    def get(self, digest: str) -> Document | None:
        return self._sessions.find_one({"_id": digest})

    def touch(self, digest: str, now: datetime, idle_expires_at: datetime) -> None:
        """Move the idle clock on. Every writer of a live session moves it forward to about
        now, so whichever of two concurrent touches lands last is right to within a second;
        after a delete it matches nothing (no session comes back). The expiry entry stays:
        the sweep re-schedules a session whose expiry moved."""
        self._sessions.update_one(
            {"_id": digest}, {"$set": {"last_seen_at": now, "idle_expires_at": idle_expires_at}}
        )

    def confirm_password(self, digest: str, now: datetime) -> None:
        """The session's owner entered their password again (step-up). A document of its
        own, so that no touch of the session can overwrite it."""
        self._confirmations.replace_one({"_id": digest}, {"_id": digest, "at": now}, upsert=True)

    def password_entered_at(self, session: Document) -> datetime:
        """When the password was last entered in this session: at log-in, or a step-up since."""
        confirmed = self._confirmations.find_one({"_id": session["_id"]})
        return confirmed["at"] if confirmed else session["created_at"]  # type: ignore[no-any-return]

    def end(self, digest: str, account_id: str) -> bool:
        """Delete a session (log-out, expiry, erasure), then its index entry."""
        deleted = bool(self._sessions.delete_one({"_id": digest}).deleted_count)
        self._confirmations.delete_one({"_id": digest})
        if account_id:
            self._owned.remove(account_id, "session", digest)
        return deleted

    def reschedule(self, session: Document) -> None:
        self._expiries.schedule(
            SESSION_QUEUE, session_expiry(session), str(session["_id"]), account_id=str(session["account_id"])
        )


class TokenStore:
    def __init__(self, db: Db, owned: OwnerIndex, expiries: TimeQueue) -> None:
        self._tokens = db[TOKENS]
        self._used = db[USED_TOKENS]
        self._owned = owned
        self._expiries = expiries

    def issue(self, token: Document) -> None:
        account_id, digest = str(token["account_id"]), str(token["_id"])
        self._expiries.schedule(TOKEN_QUEUE, token["expires_at"], digest, account_id=account_id)
        self._owned.add(account_id, "token", digest)
        self._tokens.insert_one(token)

    def get(self, digest: str) -> Document | None:
        return self._tokens.find_one({"_id": digest})

    def claim(self, digest: str, now: datetime, expires_at: datetime) -> bool:
        """Mark a token used; only the first caller wins (single use under races)."""
        try:
            self._used.insert_one({"_id": digest, "used_at": now, "expires_at": expires_at})
        except DuplicateKeyError:
            return False
        return True

    def delete(self, digest: str, account_id: str) -> bool:
        """Delete a token and its used mark, then its index entry."""
        deleted = bool(self._tokens.delete_one({"_id": digest}).deleted_count)
        self._used.delete_one({"_id": digest})
        if account_id:
            self._owned.remove(account_id, "token", digest)
        return deleted


class AttemptStore:
    def __init__(self, db: Db, expiries: TimeQueue) -> None:
        self._attempts = db[ATTEMPTS]
        self._expiries = expiries

    def add(self, limiter: str, limit_key: str, at: datetime, expires_at: datetime) -> str:
        attempt_id = key(limiter, limit_key, timekey(at), uuid.uuid4().hex)
        self._expiries.schedule(ATTEMPT_QUEUE, expires_at, uuid.uuid4().hex, attempt=attempt_id)
        self._attempts.insert_one({"_id": attempt_id})
        return attempt_id

    def times(self, limiter: str, limit_key: str, since: datetime) -> list[datetime]:
        """Times of the attempts under the key since ``since``, oldest first (one range)."""
        window = {**under(limiter, limit_key), "$gte": key(limiter, limit_key, timekey(since))}
        return [
            from_timekey(str(doc["_id"]).split("/")[2])
            for doc in self._attempts.find({"_id": window}, projection={"_id": 1}, sort=[("_id", ASCENDING)])
        ]

    def delete(self, attempt_id: str) -> bool:
        return bool(self._attempts.delete_one({"_id": attempt_id}).deleted_count)
