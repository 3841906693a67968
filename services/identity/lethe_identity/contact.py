"""Contact and callback requests: anyone may send one, staff answer and close them.

Abuse guard: a per-client-address limit here (the gateway adds a honeypot
field). A closed request is kept for the configured period, then the
worker's sweep deletes it (SPEC section 3: until answered, then 90 days).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from lethe_common import tokens
from lethe_common.errors import FailedPrecondition, InvalidArgument, NotFound, TooManyRequests
from lethe_common.subject import subject_key
from lethe_identity import validation
from lethe_identity.accounts import utcnow
from lethe_identity.config import IdentityConfig
from lethe_identity.limiter import AttemptLimiter
from lethe_identity.models import CONTACT_KINDS, CONTACT_STATUSES, ContactView
from lethe_identity.portal import Portal
from lethe_identity.repository import IdentityRepository


class ContactRequests:
    def __init__(self, repo: IdentityRepository, portal: Portal, config: IdentityConfig,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._repo = repo
        self._portal = portal
        self._pepper = config.common.subject_pepper
        self._clock = clock
        self._limiter = AttemptLimiter(repo, "contact", config.contact_max_per_address,
                                       config.contact_window_seconds)

    def submit(self, *, name: str, email: str, phone: str, message: str, kind: str,
               client_address: str) -> str:
        if kind not in CONTACT_KINDS:
            raise InvalidArgument("kind must be contact or callback")
        address = validation.email(email)
        doc = {
            "_id": tokens.new_id("cr"), "kind": kind, "name": validation.name(name),
            "email": address, "subject_key": subject_key(self._pepper, address),
            "phone": validation.phone(phone),
            "message": validation.text(message, "message", max_length=validation.MAX_MESSAGE,
                                       multiline=True),
            "status": "open", "created_at": self._clock(),
        }
        if kind == "callback" and not doc["phone"]:
            raise InvalidArgument("a callback request needs a phone number")
        now = self._clock()
        client_key = tokens.client_key(self._pepper, client_address)
        _, wait = self._limiter.begin(client_key, now)
        if wait:
            raise TooManyRequests(f"too many requests from your network; try again in {wait} "
                                  "seconds", retry_after=wait)
        self._repo.insert_contact(doc)
        return str(doc["_id"])

    def list(self, actor_id: str, status: str) -> list[ContactView]:
        self._portal.require_admin(actor_id)
        wanted = status or "open"
        if wanted not in CONTACT_STATUSES:
            raise InvalidArgument("status must be open or closed")
        return [ContactView.from_doc(doc) for doc in self._repo.contacts(wanted)]

    def close(self, actor_id: str, contact_id: str) -> ContactView:
        self._portal.require_admin(actor_id)
        doc = self._repo.contact(validation.object_id(contact_id, "contact_request_id"))
        if doc is None:
            raise NotFound("no such contact request")
        if doc["status"] == "closed":
            raise FailedPrecondition("this contact request is already closed")
        now = self._clock()
        self._repo.close_contact(doc["_id"], now, actor_id)
        return ContactView.from_doc({**doc, "status": "closed", "closed_at": now})
