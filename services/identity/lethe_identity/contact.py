"""Contact and callback requests: anyone may send one, staff answer and close them.

Abuse guard: a per-client-address limit here (the gateway adds a honeypot
field). A closed request is kept for the configured period, then the
worker's sweep deletes it (SPEC section 3: until answered, then 90 days).

A request is written once; closing it is a unique insert (two staff closing it at once:
one wins, the other is told it is closed). Staff lists are queues of entries by time
(open by arrival, closed by closing), newest first; each entry is checked against its
request, and a person who restricted processing is left out.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from lethe_common import tokens
from lethe_common.audit import AuditRecord
from lethe_common.errors import FailedPrecondition, InvalidArgument, NotFound, TooManyRequests
from lethe_common.mongo import Document
from lethe_common.store.paging import Page, decode_cursor, encode_cursor, filtered_page, page_size
from lethe_common.subject import subject_key
from lethe_identity import validation
from lethe_identity.config import IdentityConfig
from lethe_identity.limiter import AttemptLimiter
from lethe_identity.models import CONTACT_KINDS, CONTACT_STATUSES, ContactView, utcnow
from lethe_identity.portal import ORPHAN_AFTER, Portal
from lethe_identity.repo_contacts import CLOSED_QUEUE, OPEN_QUEUE
from lethe_identity.repository import IdentityRepository


class ContactRequests:
    def __init__(
        self,
        repo: IdentityRepository,
        portal: Portal,
        config: IdentityConfig,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._repo = repo
        self._portal = portal
        self._pepper = config.common.subject_pepper
        self._retention = timedelta(days=config.contact_retention_days)
        self._clock = clock
        self._limiter = AttemptLimiter(
            repo.attempts, "contact", config.contact_max_per_address, config.contact_window_seconds
        )

    def submit(
        self, *, name: str, email: str, phone: str, message: str, kind: str, client_address: str
    ) -> str:
        if kind not in CONTACT_KINDS:
            raise InvalidArgument("kind must be contact or callback")
        address = validation.email(email)
        now = self._clock()
        doc = {
            "_id": tokens.new_ordered_id("cr"),
            "kind": kind,
            "name": validation.name(name),
            "email": address,
            "subject_key": subject_key(self._pepper, address),
            "phone": validation.phone(phone),
            "message": validation.text(message, "message", max_length=validation.MAX_MESSAGE, multiline=True),
            "created_at": now,
        }
        if kind == "callback" and not doc["phone"]:
            raise InvalidArgument("a callback request needs a phone number")
        client_key = tokens.client_key(self._pepper, client_address)
        _, wait = self._limiter.begin(client_key, now)
        if wait:
            raise TooManyRequests(
                f"too many requests from your network; try again in {wait} seconds", retry_after=wait
            )
        self._repo.contacts.submit(doc)
        return str(doc["_id"])

    def list(
        self, actor_id: str, status: str, size: int = 0, token: str = ""
    ) -> tuple[list[ContactView], str]:
        """One status, newest first, a page at a time: (views, next page's token)."""
        self._portal.require_support(actor_id)
        wanted = status or "open"
        if wanted not in CONTACT_STATUSES:
            raise InvalidArgument("status must be open or closed")
        queue = OPEN_QUEUE if wanted == "open" else CLOSED_QUEUE
        now = self._clock()

        def fetch(cursor: str, limit: int) -> Page:
            page = self._repo.contacts.queue_page(queue, cursor, limit)
            ids = [str(entry["item"]) for entry in page.items]
            contacts = self._repo.contacts.get_many(ids)
            closures = self._repo.contacts.closures(ids)
            hidden = self._repo.contacts.restricted(c["subject_key"] for c in contacts.values())
            for entry in page.items:
                contact = contacts.get(str(entry["item"]))
                entry["contact"], entry["closure"] = contact, closures.get(str(entry["item"]))
                entry["hidden"] = contact is not None and contact["subject_key"] in hidden
            return page

        page = filtered_page(
            fetch,
            lambda entry: self._shown(entry, wanted, now),
            after=decode_cursor(token),
            limit=page_size(size),
        )
        return [self._view(entry["contact"], entry["closure"]) for entry in page.items], encode_cursor(
            page.next_cursor
        )

    def _shown(self, entry: Document, wanted: str, now: datetime) -> bool:
        """Whether a list entry stands for a request to show; tidies up entries that stand
        for nothing any more."""
        contact, closure = entry["contact"], entry["closure"]
        if contact is None:  # being written, or gone (erased, swept)
            if entry["at"] < now - ORPHAN_AFTER:
                self._repo.contacts.drop_entry(str(entry["_id"]))
            return False
        if wanted == "open" and closure is not None:  # closed: finish moving it
            self._repo.contacts.settle_closed(contact, closure, closure["closed_at"] + self._retention)
            return False
        if wanted == "closed" and (closure is None or closure["closed_at"] != entry["at"]):
            return False
        return not entry["hidden"]

    @staticmethod
    def _view(contact: Document, closure: Document | None) -> ContactView:
        return ContactView.from_doc(
            {
                **contact,
                "status": "closed" if closure else "open",
                "closed_at": closure["closed_at"] if closure else None,
            }
        )

    def close(self, actor_id: str, contact_id: str) -> ContactView:
        self._portal.require_support(actor_id)
        doc = self._repo.contacts.get(validation.object_id(contact_id, "contact_request_id"))
        if doc is None:
            raise NotFound("no such contact request")
        now = self._clock()
        if not self._repo.contacts.close(doc["_id"], now, actor_id):
            raise FailedPrecondition("this contact request is already closed")
        closure = {"closed_at": now, "closed_by": actor_id}
        self._repo.contacts.settle_closed(doc, closure, now + self._retention)
        self._repo.audit.record(
            AuditRecord(
                actor_id,
                "contact_request.closed",
                target=str(doc["_id"]),
                subject_key=str(doc.get("subject_key", "")),
            ),
            now,
        )
        return self._view(doc, closure)
