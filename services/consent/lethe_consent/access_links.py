"""The right of access for a person without an account (issue 14).

Once they confirm their access request from the mailed link, a second mail brings a
download link: expiring (``CONSENT_DOWNLOAD_TTL_HOURS``) and single-use. The gateway
assembles the data when the link is used, from every service at that moment, so no copy
of the data is ever kept at rest; only the link's digest is, under the request's id. The
download that uses the link up completes the request: staff see it complete by itself.

- ``open``: whom the link names (the request's subject), or NotFound;
- ``use_up``: take the link out (exactly one of two racing downloads does) and complete the
  request; NotFound when the link is unknown, used or expired.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from lethe_common import tokens
from lethe_common.errors import NotFound
from lethe_common.mongo import Document
from lethe_common.store.index import TimeQueue
from lethe_common.store.steps import Step
from lethe_common.subject import Subject
from lethe_consent.expiries import due_entries
from lethe_consent.mailer import Mailer
from lethe_consent.models import RequestView
from lethe_consent.request_book import RequestBook
from lethe_consent.request_store import RequestStore

log = logging.getLogger(__name__)

LINK_GONE = "this download link is unknown, has been used or has expired; please ask for your data again"
DOWNLOADED = "the data was downloaded with the mailed single-use link"
EXPIRED_LINKS = "download_links"
LINK_SENT = "a single-use download link was mailed; the request completes when it is used"


class AccessDownloads:
    def __init__(
        self, store: RequestStore, book: RequestBook, expiries: TimeQueue, mailer: Mailer, ttl_hours: int
    ) -> None:
        self._store = store
        self._expiries = expiries
        self._book = book
        self._mailer = mailer
        self._ttl = timedelta(hours=ttl_hours)

    def send_link(self, request: Document, email: str, now: datetime) -> None:
        """Store the link's digest under the request and mail the link (once per request)."""
        token = tokens.new_token()
        expires = now + self._ttl
        self._expiries.schedule(EXPIRED_LINKS, expires, request["_id"])
        if not self._store.add_download(
            request["_id"], tokens.digest(token), str(request["subject_key"]), expires
        ):
            return
        self._mailer.access_ready(email, request["_id"], token, expires)
        log.info("download link mailed", extra={"request_id": request["_id"]})

    def _valid(self, request_id: str, token: str, now: datetime) -> Document:
        if not tokens.looks_like_token(token):
            raise NotFound(LINK_GONE, reason="link_expired")
        link = self._store.download(request_id)
        if link is None or link["expires_at"] < now or not tokens.same_digest(token, link["digest"]):
            raise NotFound(LINK_GONE, reason="link_expired")
        return link

    def open(self, request_id: str, token: str, now: datetime | None = None) -> Subject:
        """Whom a valid link is for (by subject key only: what they asked about is the address)."""
        link = self._valid(request_id, token, now or datetime.now(UTC))
        return Subject(subject_key=str(link["subject_key"]))

    def use_up(self, request_id: str, token: str, now: datetime | None = None) -> RequestView:
        now = now or datetime.now(UTC)
        self._valid(request_id, token, now)
        if not self._store.delete_download(request_id):
            raise NotFound(LINK_GONE, reason="link_expired")  # another download used it a moment ago
        doc = self._store.get(request_id)
        if doc is None:
            raise NotFound(LINK_GONE, reason="link_expired")

        def decide(state: Document) -> Step | None:
            if state["status"] in ("complete", "rejected"):
                return None
            return Step(
                {"status": "complete", "completed_at": now, "decision": DOWNLOADED, "by": "person", "at": now}
            )

        moved = self._book.move(doc, decide)
        log.info("data downloaded", extra={"request_id": request_id})
        return self._book.view(moved.state)

    def forget_expired(self, now: datetime) -> int:
        """Drop the links that expired unused (the request stays, for staff to see)."""
        dropped = 0
        for entry in due_entries(self._expiries, EXPIRED_LINKS, now):
            link = self._store.download(entry["item"])
            if link is not None and link["expires_at"] <= now:
                dropped += self._store.delete_download(entry["item"])
            self._expiries.remove(entry["_id"])
        return dropped
