"""Subscribing with double opt-in, confirming, and leaving (SPEC section 3, newsletter row).

Nothing goes to an address before it is confirmed except the one confirmation
mail the person asked for, at most once per resend interval. Every answer to
a subscription request is the same, whatever the address's state, so the
form tells nobody who subscribes. Leaving takes effect at once: the
subscriber stops being sendable in the same write, the consent service
records the withdrawal, and then the address, name and send log are deleted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from lethe_common import tokens
from lethe_common.errors import FailedPrecondition, InvalidArgument, Unavailable
from lethe_common.events.envelope import Envelope
from lethe_common.mongo import Document
from lethe_common.netaddr import truncate_address
from lethe_common.subject import subject_key
from lethe_common.validation import email as checked_email
from lethe_common.validation import object_id, text
from lethe_newsletter.links import Links
from lethe_newsletter.models import SubscriptionView
from lethe_newsletter.repository import NewsletterRepository

log = logging.getLogger(__name__)

ACCEPTED = ("thank you: if this address can subscribe, a confirmation link is on its way; "
            "the subscription starts once you confirm it")
USED_OR_UNKNOWN = ("this confirmation link has been used already or is no longer valid; "
                   "subscribe again to get a new one")


class ConsentRecorder(Protocol):
    def current_version(self) -> str: ...

    def grant(self, account_id: str, email: str, name: str, version: str,
              client_address: str) -> str: ...

    def withdraw(self, account_id: str, email: str) -> None: ...


@dataclass(frozen=True)
class Applicant:
    """Who asks to subscribe: an address, optionally a name and their account."""

    email: str
    name: str = ""
    account_id: str = ""


def checked_applicant(email: str, name: str, account_id: str) -> Applicant:
    if account_id:
        object_id(account_id, "account_id")
    return Applicant(checked_email(email), text(name, "name", max_length=200, required=False),
                     account_id)


def _millis(now: datetime) -> int:
    return int(now.timestamp() * 1000)


class Subscriptions:
    def __init__(self, repo: NewsletterRepository, consent: ConsentRecorder, links: Links,
                 pepper: str, confirmation_ttl: timedelta, resend_interval: timedelta) -> None:
        self._repo = repo
        self._consent = consent
        self._links = links
        self._pepper = pepper
        self._ttl = confirmation_ttl
        self._resend = resend_interval

    # -- subscribing ----------------------------------------------------------------------
    def subscribe(self, applicant: Applicant, consent_version: str, client_address: str = "",
                  now: datetime | None = None) -> str:
        """Ask for a confirmation mail; the same answer for every address."""
        now = now or datetime.now(UTC)
        version = text(consent_version, "consent_version", max_length=32)
        current = self._consent.current_version()
        if version != current:
            raise InvalidArgument(f"version {version} of the newsletter text is not the current "
                                  f"one ({current}); please agree to the current text")
        key = subject_key(self._pepper, applicant.email)
        existing = self._repo.subscriber_by_key(key)
        if existing is not None and existing["status"] == "unsubscribing":
            existing = None if self.finish_withdrawal(existing) else existing
        if existing is None:
            self._start(applicant, key, version, client_address, now)
        elif existing["status"] == "pending":
            self._remind(existing, applicant, version, now)
        return ACCEPTED

    def _confirmation_event(self, subscriber_id: str, key: str) -> Envelope:
        return Envelope(type="newsletter.confirmation_requested", source="newsletter",
                        subject_key=key, payload={"subscriber_id": subscriber_id})

    def _start(self, applicant: Applicant, key: str, version: str, client_address: str,
               now: datetime) -> None:
        subscriber_id = tokens.new_id("sub")
        doc: Document = {
            "_id": subscriber_id, "subject_key": key, "email": applicant.email,
            "name": applicant.name, "account_id": applicant.account_id, "status": "pending",
            "consent_version": version, "pending_since": _millis(now), "requested_at": now,
            "confirmation_requested_at": now, "restricted": False,
            "client_address": truncate_address(client_address)}
        if not self._repo.insert_subscriber(doc, self._confirmation_event(subscriber_id, key)):
            log.info("subscription raced with another for the same address")

    def _remind(self, pending: Document, applicant: Applicant, version: str,
                now: datetime) -> None:
        """Another request while pending: a new mail only once the resend interval passed."""
        changes: Document = {"consent_version": version, "requested_at": now}
        if applicant.name:
            changes["name"] = applicant.name
        if applicant.account_id:
            changes["account_id"] = applicant.account_id
        last = pending.get("confirmation_requested_at")
        if last is not None and last.replace(tzinfo=UTC) > now - self._resend:
            self._repo.update_subscriber(pending["_id"], {"status": "pending"}, changes)
            return
        changes["confirmation_requested_at"] = now
        self._repo.update_subscriber(pending["_id"], {"status": "pending"}, changes,
                                     self._confirmation_event(pending["_id"], pending["subject_key"]))

    def confirmation_token(self, subscriber_id: str, now: datetime | None = None) -> \
            tuple[Document, str] | None:
        """For the worker: the pending subscriber and a fresh link token, or None."""
        now = now or datetime.now(UTC)
        pending = self._repo.subscriber(subscriber_id)
        if pending is None or pending["status"] != "pending":
            return None
        return pending, self._links.confirmation_token(subscriber_id, pending["pending_since"],
                                                       now, self._ttl)

    # -- confirming -----------------------------------------------------------------------
    def confirm(self, token: str, client_address: str = "",
                now: datetime | None = None) -> SubscriptionView:
        """Record the consent, lift any suppression, and make the subscriber active."""
        now = now or datetime.now(UTC)
        claim = self._links.confirmation(token, now)
        pending = self._repo.subscriber(claim.subscriber_id)
        if pending is None or pending["status"] != "pending" \
                or pending.get("pending_since") != claim.pending_since:
            raise FailedPrecondition(USED_OR_UNKNOWN, reason="link_used")
        record_id = self._consent.grant(pending.get("account_id", ""), pending["email"],
                                        pending.get("name", ""), pending["consent_version"],
                                        client_address)
        # Only the person's own confirmation lifts a suppression (an earlier erasure).
        self._repo.lift_suppression(pending["subject_key"])
        active = self._repo.update_subscriber(
            pending["_id"], {"status": "pending", "pending_since": claim.pending_since},
            {"status": "active", "confirmed_at": now, "consent_record_id": record_id},
            unset=("pending_since", "confirmation_requested_at", "client_address"))
        if active is None:
            raise FailedPrecondition(USED_OR_UNKNOWN, reason="link_used")
        log.info("subscription confirmed", extra={"subscriber_id": pending["_id"]})
        return SubscriptionView.of(active)

    # -- leaving --------------------------------------------------------------------------
    def unsubscribe_with_token(self, token: str, now: datetime | None = None) -> str:
        """One click from any newsletter: effective at once, whatever else is down."""
        subscriber = self._repo.subscriber(self._links.unsubscribed_id(token))
        if subscriber is not None:
            self._leave(subscriber, record_withdrawal=True, now=now)
        return "you are unsubscribed: you will not receive the newsletter any more"

    def unsubscribe_person(self, account_id: str, email: str,
                           now: datetime | None = None) -> SubscriptionView:
        """From the portal: the logged-in person's subscription ends."""
        for subscriber in self._repo.subscribers_of(account_id, self._key_of(email)):
            self._leave(subscriber, record_withdrawal=True, now=now)
        return SubscriptionView("unsubscribed")

    def consent_withdrawn(self, account_id: str, key: str, withdrawn_at: datetime) -> int:
        """The consent ended elsewhere (portal, objection): stop at once, delete the data.

        A subscription asked for or confirmed after the withdrawal was recorded is
        a new wish and stays.
        """
        left = 0
        for subscriber in self._repo.subscribers_of(account_id, key):
            since = subscriber.get("confirmed_at") or subscriber.get("requested_at")
            if since is not None and since.replace(tzinfo=UTC) > withdrawn_at:
                continue
            self._leave(subscriber, record_withdrawal=False)
            left += 1
        return left

    def _leave(self, subscriber: Document, *, record_withdrawal: bool,
               now: datetime | None = None) -> None:
        """Stop mail at once; record the withdrawal where it is ours to record; delete."""
        if not record_withdrawal or subscriber["status"] == "pending":
            self._repo.delete_subscriber(subscriber["_id"])
            return
        marked = self._repo.update_subscriber(
            subscriber["_id"], {"status": {"$in": ["active", "unsubscribing"]}},
            {"status": "unsubscribing", "unsubscribed_at": now or datetime.now(UTC)})
        if marked is not None:
            self.finish_withdrawal(marked)

    def finish_withdrawal(self, subscriber: Document) -> bool:
        """Record the withdrawal with consent, then delete; False if consent is unreachable."""
        try:
            self._consent.withdraw(subscriber.get("account_id", ""), subscriber["email"])
        except Unavailable:
            log.warning("withdrawal not recorded yet; the worker retries",
                        extra={"subscriber_id": subscriber["_id"]})
            return False
        self._repo.delete_subscriber(subscriber["_id"])
        return True

    def retry_withdrawals(self) -> int:
        return sum(self.finish_withdrawal(doc) for doc in self._repo.withdrawals_pending())

    def forget_unconfirmed(self, now: datetime | None = None) -> int:
        """Unconfirmed requests hold an address: they go once their link could have expired."""
        now = now or datetime.now(UTC)
        return self._repo.delete_pending_before(now - self._ttl)

    # -- reading --------------------------------------------------------------------------
    def _key_of(self, email: str) -> str:
        return subject_key(self._pepper, checked_email(email)) if email else ""

    def subscription_of(self, account_id: str, email: str) -> SubscriptionView:
        found = self._repo.subscribers_of(account_id, self._key_of(email))
        return SubscriptionView.of(found[0] if found else None)

    def check_unsubscribe_token(self, token: str) -> None:
        """Raise InvalidArgument unless the token is ours (the page shows nothing else)."""
        self._links.unsubscribed_id(token)
