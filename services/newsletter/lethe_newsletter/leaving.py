"""Leaving: by the unsubscribe link, from the portal, by a withdrawal elsewhere; and the
sweeps that finish what could not be finished at once.

Leaving takes effect at once: the ``left`` step makes the subscriber unsendable in one
insert, which no concurrent write can undo (every move is a step appended after reading
the ones before). Then the consent service records the withdrawal, and the subscription
ends: address, name and send log are deleted. If consent cannot be reached, a queue
entry written before the ``left`` step makes the worker's sweep try again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from lethe_common.errors import Unavailable
from lethe_common.store.steps import Step
from lethe_common.subject import Subject
from lethe_newsletter.lifecycle import ACTIVE, CONFIRMING, ENDED, LEAVING, LEFT, PENDING, Life, step
from lethe_newsletter.links import Links
from lethe_newsletter.models import SubscriptionView, to_millis
from lethe_newsletter.people import Subscribers
from lethe_newsletter.ports import ConsentRecorder
from lethe_newsletter.repository import NewsletterRepository

log = logging.getLogger(__name__)

UNCONFIRMED = "unconfirmed"
WITHDRAWALS = "withdrawals"
UNSUBSCRIBED = "you are unsubscribed: you will not receive the newsletter any more"
# The person's own request records the withdrawal at once; the sweep only looks later.
RETRY_AFTER = timedelta(seconds=30)
SWEEP_PAGES = 20


def _now(now: datetime | None) -> datetime:
    return to_millis(now or datetime.now(UTC))


class Leaving:
    def __init__(
        self,
        subscribers: Subscribers,
        repo: NewsletterRepository,
        consent: ConsentRecorder,
        links: Links,
        confirmation_ttl: timedelta,
    ) -> None:
        self._subscribers = subscribers
        self._repo = repo
        self._consent = consent
        self._links = links
        self._ttl = confirmation_ttl

    # -- the person leaves ----------------------------------------------------------------
    def unsubscribe_with_token(self, token: str, now: datetime | None = None) -> str:
        """One click from any newsletter: effective at once, whatever else is down."""
        self.leave(self._links.unsubscribed_id(token), now)
        return UNSUBSCRIBED

    def unsubscribe_person(self, subject: Subject, now: datetime | None = None) -> SubscriptionView:
        """From the portal: the logged-in person's subscriptions end."""
        for subscriber in self._subscribers.of(subject):
            self.leave(subscriber, now)
        return SubscriptionView("unsubscribed")

    def leave(self, subscriber: str, now: datetime | None = None) -> None:
        """Stop mail at once; record the withdrawal; delete. A request not yet confirmed
        has no consent to withdraw and simply ends."""
        at = _now(now)
        retry = self._repo.schedule(WITHDRAWALS, at + RETRY_AFTER, subscriber)

        def decide(life: Life) -> Step | None:
            if life.status == PENDING:
                return Step(step(ENDED, at=at, reason="unsubscribed", request_id=""))
            if life.status in (ACTIVE, CONFIRMING):
                return Step(step(LEFT, at=at))
            return None

        appended = self._repo.append(subscriber, decide)
        if appended.step is None:  # nothing to leave, or another request is leaving it
            if appended.before.status != LEAVING:
                self._repo.unschedule(retry)
        elif appended.step["kind"] == ENDED:
            self._repo.purge(subscriber, int(appended.step["n"]), [appended.before.account_id])
            self._repo.unschedule(retry)
        elif self.finish_withdrawal(subscriber):
            self._repo.unschedule(retry)

    def finish_withdrawal(self, subscriber: str) -> bool:
        """Record the withdrawal with consent, then end; False if consent is unreachable."""
        life = self._subscribers.life(subscriber)
        if life.status != LEAVING:
            return True
        try:
            self._consent.withdraw(life.account_id, life.email)
        except Unavailable:
            log.warning(
                "withdrawal not recorded yet; the worker retries", extra={"subscriber_id": subscriber}
            )
            return False
        self._subscribers.end(subscriber, lambda current: current.status == LEAVING, "unsubscribed")
        return True

    # -- the consent ended elsewhere ------------------------------------------------------
    def consent_withdrawn(self, subject: Subject, withdrawn_at: datetime) -> int:
        """The consent ended elsewhere (portal, objection): stop at once, delete the data.

        A subscription asked for or confirmed after the withdrawal was recorded is a new
        wish and stays.
        """

        def older(life: Life) -> bool:
            since = life.confirmed_at or life.requested_at
            return since is None or since <= withdrawn_at

        ended = 0
        for subscriber in self._subscribers.of(subject):
            if self._subscribers.end(subscriber, older, "withdrawn").step is not None:
                ended += 1
        return ended

    # -- sweeps ---------------------------------------------------------------------------
    def retry_withdrawals(self, now: datetime | None = None) -> int:
        """Withdrawals consent could not take at once. Each entry is taken by one sweep
        (a counted delete), after the next retry was queued, so a crash loses none."""
        at = _now(now)
        recorded = 0
        for _ in range(SWEEP_PAGES):
            entries = self._repo.due(WITHDRAWALS, at)
            for entry in entries:
                subscriber = str(entry["item"])
                later = self._repo.schedule(WITHDRAWALS, at + RETRY_AFTER, subscriber)
                if not self._repo.take(entry["_id"]):
                    self._repo.unschedule(later)  # another sweep has it
                    continue
                if self.finish_withdrawal(subscriber):
                    self._repo.unschedule(later)
                    recorded += 1
            if len(entries) < 200:
                break
        return recorded

    def forget_unconfirmed(self, now: datetime | None = None) -> int:
        """Unconfirmed requests hold an address: they end once their last link expired."""
        at = _now(now)

        def expired(life: Life) -> bool:
            mailed = life.confirmation_requested_at or life.requested_at
            return life.pending and (mailed is None or mailed + self._ttl <= at)

        forgotten = 0
        for _ in range(SWEEP_PAGES):
            entries = self._repo.due(UNCONFIRMED, at)
            for entry in entries:
                if self._subscribers.end(str(entry["item"]), expired, "unconfirmed", now=at).step is not None:
                    forgotten += 1
                self._repo.unschedule(entry["_id"])
            if len(entries) < 200:
                break
        return forgotten
