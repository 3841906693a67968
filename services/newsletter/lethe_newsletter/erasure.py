"""The newsletter's part of an erasure or restriction, and its data export.

Erasure ends the person's subscriptions (their steps, send log and address go), and puts
the subject_key on the suppression list, so the address is never mailed again unless
the person subscribes and confirms anew. The suppression is written after the end,
with that time: a confirmation that won before the erasure is older than it and cannot
lift it. Restriction stops every send to the person until it is lifted: each event is
one entry per person, and the latest event (by the time consent recorded it) counts.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from lethe_common.privacy import (
    PrivacyEvent,
    Receipt,
    ReceiptSender,
    RestrictionWording,
    Retained,
    restriction_receipt,
)
from lethe_common.privacy_api import wire_time
from lethe_common.subject import Subject
from lethe_newsletter.lifecycle import Life
from lethe_newsletter.people import Subscribers
from lethe_newsletter.repository import SUBSCRIBER_STEPS, SUPPRESSION, NewsletterRepository

log = logging.getLogger(__name__)

NONE_HELD = "no newsletter subscription held for this person"
UNTIL_SUBSCRIBED_AGAIN = "until the person subscribes and confirms anew"
RESTRICTION = RestrictionWording(
    blocked=("newsletter subscription: no newsletter is sent",),
    restricted="{count} subscription(s) restricted",
    lifted="restriction lifted: the newsletter is sent again",
    none_held=NONE_HELD,
)


class NewsletterErasure:
    def __init__(self, subscribers: Subscribers, repo: NewsletterRepository, receipts: ReceiptSender) -> None:
        self._subscribers = subscribers
        self._repo = repo
        self._receipts = receipts

    def erase(self, request: PrivacyEvent, now: datetime | None = None) -> Receipt:
        """Idempotent: a repeat ends nothing new and sends no second receipt."""
        erased = sum(
            self._erase_one(subscriber, request, now) for subscriber in self._subscribers.of(request.subject)
        )
        self._repo.forget_restrictions(request.subject.owners())
        if erased:
            # Every address the person had stays unmailed, not only the one subscribed:
            # an erasure made under a new address covers the old one (issue 18).
            for key in request.subject.all_keys():
                self._repo.suppress(key, datetime.now(UTC), "erasure")
            receipt = Receipt(
                request_id=request.request_id,
                kind="erasure",
                deleted=(
                    "newsletter subscription (e-mail address, name, status, consent reference)",
                    "the log of newsletters sent to the address",
                ),
                kept=(
                    "a keyed hash of the address on the suppression list, so that it is "
                    "never mailed again (no address, no name); it goes if the person "
                    "subscribes and confirms anew",
                    "the same keyed hash in the marker that ended the subscription (which "
                    "request ended it, when), so that a repeated request suppresses again",
                ),
                note=f"{erased} subscription(s) deleted",
                retained=(
                    Retained(SUPPRESSION, UNTIL_SUBSCRIBED_AGAIN),
                    Retained(SUBSCRIBER_STEPS, UNTIL_SUBSCRIBED_AGAIN),
                ),
            )
        else:
            receipt = Receipt(request_id=request.request_id, kind="erasure", note=NONE_HELD)
        self._receipts.send(receipt, request.subject.subject_key)
        log.info("erasure handled", extra={"request_id": request.request_id, "subscriptions": erased})
        return receipt

    def _erase_one(self, subscriber: str, request: PrivacyEvent, now: datetime | None) -> bool:
        """End one subscription for this request (or find it ended by it before) and
        suppress its address; False when there was nothing."""
        ended = self._subscribers.end(
            subscriber, lambda life: True, "erasure", request_id=request.request_id, keep_key=True, now=now
        )
        if ended.step is not None:
            key = ended.before.subject_key
        elif ended.before.ended_request == request.request_id:
            key = ended.before.ended_key  # a repeat after a crash: suppress again
        else:
            return False
        self._repo.suppress(key, datetime.now(UTC), "erasure")
        self._repo.forget_restrictions(ended.before.owners())
        # The request names the account that found this subscriber: its entry goes, even if
        # a crash took the account id out of the steps before their purge was finished.
        self._repo.unlink_account(request.subject.account_id, subscriber)
        return True

    def restrict(self, request: PrivacyEvent) -> Receipt:
        """Recorded at the time consent published it: the latest by that time holds."""
        self._repo.record_restriction(
            request.subject.owners(), request.occurred_at, request.request_id, request.kind == "restriction"
        )
        receipt = restriction_receipt(request, len(self._subscribers.lives_of(request.subject)), RESTRICTION)
        self._receipts.send(receipt, request.subject.subject_key)
        return receipt

    def export(self, subject: Subject) -> dict[str, Any]:
        """Everything held about the person: subscription and which campaigns reached them."""
        lives = self._subscribers.lives_of(subject)
        keys = subject.all_keys()
        suppressed = bool(self._repo.suppressions(keys)) if keys else False
        return {
            "subscriptions": [self._subscription(life) for life in lives],
            "newsletters_sent": [
                {"campaign_id": d["campaign_id"], "outcome": d["outcome"], "at": wire_time(d.get("at"))}
                for life in lives
                for d in self._repo.sends_of(life.subscriber_id)
            ],
            "suppressed": suppressed,
        }

    def _subscription(self, life: Life) -> dict[str, Any]:
        view = self._subscribers.view(life)
        return {
            "email": life.email,
            "name": life.name,
            "status": view.status,
            "consent_version": life.consent_version,
            "requested_at": wire_time(life.requested_at),
            "confirmed_at": wire_time(life.confirmed_at),
            "restricted": view.restricted,
        }
