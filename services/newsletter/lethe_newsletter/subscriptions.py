"""Subscribing with double opt-in and confirming (SPEC section 3, newsletter row).

Nothing goes to an address before it is confirmed except the one confirmation mail the
person asked for, at most once per resend interval, and no more than the send limits allow
(:mod:`lethe_common.send_limits`: ``NEWSLETTER_CONFIRMATION_MAILS_PER_ADDRESS`` in
``NEWSLETTER_CONFIRMATION_WINDOW_SECONDS`` per address, ``..._PER_CLIENT`` in
``..._CLIENT_WINDOW_SECONDS`` per client). Every answer to a subscription request is the
same, whatever the address's state and whether a mail goes, so the form tells nobody who
subscribes or that a limit was reached.

A request whose mail a limit refuses changes nothing: a new subscription is not recorded
(its link would only be in the mail, so it could never be confirmed, and its address and
name would be kept for nothing), and a pending one keeps its last mail's time, so the next
request after the limit frees up mails at once.

Every move is a step appended after reading the subscriber's steps (see
:mod:`lethe_newsletter.lifecycle`): two requests for one address at once start one
subscription and mail once; a confirmation first appends a ``confirming`` claim and only
its winner asks consent to record the grant, so a double click records one grant.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lethe_common import tokens
from lethe_common.errors import FailedPrecondition, InvalidArgument, Unavailable
from lethe_common.events.envelope import Envelope
from lethe_common.netaddr import truncate_address
from lethe_common.send_limits import MailLimiter
from lethe_common.store.steps import Step
from lethe_common.subject import Subject, subject_key
from lethe_common.validation import email as checked_email
from lethe_common.validation import object_id, text
from lethe_newsletter.leaving import UNCONFIRMED, Leaving
from lethe_newsletter.lifecycle import (
    ACTIVE,
    CONFIRM_FAILED,
    CONFIRMED,
    CONFIRMING,
    LEAVING,
    PENDING,
    REMINDED,
    REQUESTED,
    Life,
    after,
    step,
    subscriber_id,
)
from lethe_newsletter.links import Links
from lethe_newsletter.models import SubscriptionView, to_millis
from lethe_newsletter.people import Subscribers
from lethe_newsletter.ports import ConsentRecorder
from lethe_newsletter.repository import NewsletterRepository

log = logging.getLogger(__name__)

ACCEPTED = (
    "thank you: if this address can subscribe, a confirmation link is on its way; "
    "the subscription starts once you confirm it"
)
USED_OR_UNKNOWN = (
    "this confirmation link has been used already or is no longer valid; subscribe again to get a new one"
)
BEING_CONFIRMED = "this subscription is being confirmed right now; please try again in a moment"
# Steps one subscription may take: repeated requests change it at most this often.
MAX_LIFE_STEPS = 50
# The send limit's name of the double opt-in mail.
CONFIRMATION_MAIL = "newsletter-confirmation"


@dataclass(frozen=True)
class Applicant:
    """Who asks to subscribe: an address, optionally a name and their account."""

    email: str
    name: str = ""
    account_id: str = ""


@dataclass(frozen=True)
class Timing:
    confirmation_ttl: timedelta
    resend_interval: timedelta
    # How long a confirmation waits for another one of the same link under way, and after
    # how long a claim whose holder never finished (a crash) may be taken over.
    confirm_wait_seconds: float = 5.0
    claim_timeout: timedelta = timedelta(seconds=30)


def checked_applicant(email: str, name: str, account_id: str) -> Applicant:
    if account_id:
        object_id(account_id, "account_id")
    return Applicant(checked_email(email), text(name, "name", max_length=200, required=False), account_id)


def _millis(now: datetime) -> int:
    return int(now.timestamp() * 1000)


def _now(now: datetime | None = None) -> datetime:
    return to_millis(now or datetime.now(UTC))


def _confirmation_event(subscriber: str, key: str) -> Envelope:
    return Envelope(
        type="newsletter.confirmation_requested",
        source="newsletter",
        subject_key=key,
        payload={"subscriber_id": subscriber},
    )


class Subscriptions:
    def __init__(
        self,
        repo: NewsletterRepository,
        subscribers: Subscribers,
        leaving: Leaving,
        consent: ConsentRecorder,
        links: Links,
        pepper: str,
        timing: Timing,
        mail_limits: MailLimiter,
    ) -> None:
        self._repo = repo
        self._subscribers = subscribers
        self._leaving = leaving
        self._consent = consent
        self._links = links
        self._pepper = pepper
        self._timing = timing
        self.mail_limits = mail_limits

    # -- subscribing ----------------------------------------------------------------------
    def subscribe(
        self,
        applicant: Applicant,
        consent_version: str,
        client_address: str = "",
        now: datetime | None = None,
    ) -> str:
        """Ask for a confirmation mail; the same answer for every address."""
        at = _now(now)
        version = text(consent_version, "consent_version", max_length=32)
        current = self._consent.current_version()
        if version != current:
            raise InvalidArgument(
                f"version {version} of the newsletter text is not the current "
                f"one ({current}); please agree to the current text"
            )
        key = subject_key(self._pepper, applicant.email)
        subscriber = subscriber_id(key)
        if self._subscribers.life(subscriber).status == LEAVING and not self._leaving.finish_withdrawal(
            subscriber
        ):
            return ACCEPTED  # still unsubscribing: consent is down, the worker retries
        self._repo.link_account(applicant.account_id, subscriber)  # the index before the item
        permit = _MailPermit(self.mail_limits, applicant.email, client_address, at)
        request = _Request(applicant, key, version, truncate_address(client_address), at, permit)
        self._repo.append(subscriber, lambda life: self._request_step(life, request))
        return ACCEPTED

    def _mailing(self, subscriber: str, at: datetime) -> None:
        """Queue the end of the request the mail about to go is for (before the step)."""
        self._repo.schedule(UNCONFIRMED, at + self._timing.confirmation_ttl, subscriber)

    def _request_step(self, life: Life, request: _Request) -> Step | None:
        if not life.live:
            if not request.permit.granted():
                return None  # over a send limit: no mail, so nothing to confirm either
            self._mailing(life.subscriber_id, request.at)
            applicant = request.applicant
            return Step(
                step(
                    REQUESTED,
                    subject_key=request.key,
                    email=applicant.email,
                    name=applicant.name,
                    account_id=applicant.account_id,
                    consent_version=request.version,
                    pending_since=_millis(request.at),
                    requested_at=request.at,
                    confirmation_requested_at=request.at,
                    client_address=request.client_address,
                ),
                [_confirmation_event(life.subscriber_id, request.key)],
            )
        if life.status == PENDING and life.steps < MAX_LIFE_STEPS:
            return self._reminder(life, request)
        return None  # confirmed, being confirmed or leaving: nothing to do

    def _reminder(self, life: Life, request: _Request) -> Step | None:
        """Another request while pending: a new mail only once the resend interval passed."""
        changes: dict[str, object] = {}
        if request.version != life.consent_version:
            changes["consent_version"] = request.version
        if request.applicant.name and request.applicant.name != life.name:
            changes["name"] = request.applicant.name
        if request.applicant.account_id and request.applicant.account_id != life.account_id:
            changes["account_id"] = request.applicant.account_id
        last = life.confirmation_requested_at
        events = []
        due = last is None or last <= request.at - self._timing.resend_interval
        if due and request.permit.granted():
            self._mailing(life.subscriber_id, request.at)
            changes.update(requested_at=request.at, confirmation_requested_at=request.at)
            events.append(_confirmation_event(life.subscriber_id, life.subject_key))
        if not changes:
            return None
        return Step(step(REMINDED, at=request.at, **changes), events)

    # -- the confirmation mail (worker) ---------------------------------------------------
    def confirmation_to_mail(
        self, subscriber: str, event_id: str, now: datetime | None = None
    ) -> tuple[Life, str] | None:
        """The pending subscriber and the link token of the mail this event asks for; None
        when there is nothing to mail (confirmed, gone, expired, or mailed already)."""
        at = now or datetime.now(UTC)
        if not self._repo.claim_mail(subscriber, event_id):
            return None  # another worker has this event's mail
        life = self._subscribers.life(subscriber)
        mailed = life.confirmation_requested_at or life.requested_at
        if life.status != PENDING or mailed is None or mailed + self._timing.confirmation_ttl <= at:
            return None
        token = self._links.confirmation_token(
            subscriber, life.pending_since, mailed, self._timing.confirmation_ttl
        )
        return life, token

    def mail_failed(self, subscriber: str, event_id: str) -> None:
        """The relay did not take the mail: the event's next attempt may send it."""
        self._repo.release_mail(subscriber, event_id)

    # -- confirming -----------------------------------------------------------------------
    def confirm(self, token: str, client_address: str = "", now: datetime | None = None) -> SubscriptionView:
        """Record the consent, make the subscriber active, lift any suppression."""
        at = _now(now)
        claim = self._links.confirmation(token, at)
        subscriber = object_id(claim.subscriber_id, "subscriber_id")
        mine = tokens.new_id("cc")
        life = self._claim(subscriber, claim.pending_since, mine, at)
        if life.status == ACTIVE:
            return self._subscribers.view(life)  # confirmed already: the link's second click
        record_id = self._grant(life, mine, client_address)
        confirmed_at = _now()

        def decide(current: Life) -> Step | None:
            if current.status == CONFIRMING and current.claim == mine:
                return Step(step(CONFIRMED, at=confirmed_at, claim=mine, consent_record_id=record_id))
            return None

        appended = self._repo.append(subscriber, decide)
        if appended.step is None:
            self._undo_grant(life)
            raise FailedPrecondition(USED_OR_UNKNOWN, reason="link_used")
        # Only the person's own confirmation lifts a suppression (an earlier erasure).
        self._repo.lift_suppression(life.subject_key, confirmed_at)
        log.info("subscription confirmed", extra={"subscriber_id": subscriber})
        return self._subscribers.view(after(appended.before, appended.step))

    def _claim(self, subscriber: str, pending_since: int, mine: str, at: datetime) -> Life:
        """Append our ``confirming`` claim, or wait for a claim under way to finish."""
        deadline = time.monotonic() + self._timing.confirm_wait_seconds
        while True:
            busy = False

            def decide(life: Life) -> Step | None:
                nonlocal busy
                if not life.live or life.pending_since != pending_since or life.status == LEAVING:
                    raise FailedPrecondition(USED_OR_UNKNOWN, reason="link_used")
                if life.status == ACTIVE:
                    return None
                claimed = life.claimed_at
                if (
                    life.status == CONFIRMING
                    and claimed is not None
                    and claimed > at - self._timing.claim_timeout
                ):
                    busy = True
                    return None
                return Step(step(CONFIRMING, at=at, claim=mine))

            appended = self._repo.append(subscriber, decide)
            if appended.step is not None:
                return after(appended.before, appended.step)
            if not busy:
                return appended.before
            if time.monotonic() > deadline:
                raise Unavailable(BEING_CONFIRMED)
            time.sleep(0.05)

    def _grant(self, life: Life, mine: str, client_address: str) -> str:
        """Record the grant with consent; on failure give the claim back."""
        try:
            return self._consent.grant(
                life.account_id, life.email, life.name, life.consent_version, client_address
            )
        except (InvalidArgument, Unavailable):
            failed_at = _now()
            self._repo.append(
                life.subscriber_id,
                lambda current: (
                    Step(step(CONFIRM_FAILED, at=failed_at, claim=mine))
                    if current.status == CONFIRMING and current.claim == mine
                    else None
                ),
            )
            raise

    def _undo_grant(self, life: Life) -> None:
        """The subscription ended (unsubscribed, erased) while the grant was recorded: the
        newest consent record must say withdrawn (unless a newer confirmation holds)."""
        if self._subscribers.life(life.subscriber_id).status in (ACTIVE, CONFIRMING):
            return
        try:
            self._consent.withdraw(life.account_id, life.email)
        except Unavailable:
            log.warning(
                "a grant recorded while the subscription ended could not be withdrawn",
                extra={"subscriber_id": life.subscriber_id},
            )

    # -- reading --------------------------------------------------------------------------
    def subject_of(self, applicant: Applicant) -> Subject:
        """Who a checked caller is: their account id and the subject key of their address."""
        return Subject(
            account_id=applicant.account_id, subject_key=subject_key(self._pepper, applicant.email)
        )

    def subscription_of(self, applicant: Applicant) -> SubscriptionView:
        lives = self._subscribers.lives_of(self.subject_of(applicant))
        return self._subscribers.view(lives[0] if lives else None)

    def check_unsubscribe_token(self, token: str) -> None:
        """Raise InvalidArgument unless the token is ours (the page shows nothing else)."""
        self._links.unsubscribed_id(token)


class _MailPermit:
    """Whether a request may mail: the send limits are asked once, the first time a step
    would mail (the step may be decided again after a lost race; it asks no more)."""

    def __init__(self, limits: MailLimiter, email: str, client_address: str, at: datetime) -> None:
        self._limits = limits
        self._email = email
        self._client_address = client_address
        self._at = at
        self._answer: bool | None = None

    def granted(self) -> bool:
        if self._answer is None:
            self._answer = self._limits.admit(self._email, self._client_address, self._at)
        return self._answer


@dataclass(frozen=True)
class _Request:
    applicant: Applicant
    key: str
    version: str
    client_address: str
    at: datetime
    permit: _MailPermit
