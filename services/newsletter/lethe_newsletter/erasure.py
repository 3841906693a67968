"""The newsletter's part of an erasure or restriction, and its data export.

Erasure deletes the subscriber and their send log and puts the subject_key on
the suppression list, so the address is never mailed again unless the
person subscribes and confirms anew. Restriction stops every send to the
person until it is lifted.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from lethe_common.privacy import PrivacyEvent, Receipt, ReceiptSender
from lethe_common.privacy_api import wire_time
from lethe_newsletter.models import SubscriptionView
from lethe_newsletter.repository import NewsletterRepository

log = logging.getLogger(__name__)


class NewsletterErasure:
    def __init__(self, repo: NewsletterRepository, receipts: ReceiptSender) -> None:
        self._repo = repo
        self._receipts = receipts

    def erase(self, request: PrivacyEvent, now: datetime | None = None) -> Receipt:
        """Idempotent: a repeat finds nothing left and sends no second receipt."""
        now = now or datetime.now(UTC)
        subscribers = self._repo.subscribers_of(request.account_id, request.subject_key)
        for subscriber in subscribers:
            self._repo.suppress(subscriber["subject_key"], "erasure", now)
            self._repo.delete_subscriber(subscriber["_id"])
        if subscribers:
            receipt = Receipt(
                request_id=request.request_id, kind="erasure",
                deleted=("newsletter subscription (e-mail address, name, status, consent "
                         "reference)", "the log of newsletters sent to the address"),
                kept=("a keyed hash of the address on the suppression list, so that it is "
                      "never mailed again (no address, no name); it goes if the person "
                      "subscribes and confirms anew",),
                note=f"{len(subscribers)} subscription(s) deleted")
        else:
            receipt = Receipt(request_id=request.request_id, kind="erasure",
                              note="no newsletter subscription held for this person")
        self._receipts.send(receipt, request.subject_key)
        log.info("erasure handled", extra={"request_id": request.request_id,
                                           "subscriptions": len(subscribers)})
        return receipt

    def restrict(self, request: PrivacyEvent) -> Receipt:
        restricted = request.kind == "restriction"
        count = self._repo.set_restricted(request.account_id, request.subject_key, restricted)
        if not count:
            note = "no newsletter subscription held for this person"
            receipt = Receipt(request_id=request.request_id, kind=request.kind, note=note)
        elif restricted:
            receipt = Receipt(request_id=request.request_id, kind=request.kind,
                              blocked=("newsletter subscription: no newsletter is sent",),
                              blocked_until="until the person lifts the restriction",
                              note=f"{count} subscription(s) restricted")
        else:
            receipt = Receipt(request_id=request.request_id, kind=request.kind,
                              note="restriction lifted: the newsletter is sent again")
        self._receipts.send(receipt, request.subject_key)
        return receipt

    def export(self, account_id: str, subject_key: str) -> dict[str, Any]:
        """Everything held about the person: subscription and which campaigns reached them."""
        subscribers = self._repo.subscribers_of(account_id, subject_key)
        sends = self._repo.sends_of([s["_id"] for s in subscribers])
        return {
            "subscriptions": [{
                "email": s.get("email", ""), "name": s.get("name", ""),
                "status": SubscriptionView.of(s).status,
                "consent_version": s.get("consent_version", ""),
                "requested_at": wire_time(s.get("requested_at")),
                "confirmed_at": wire_time(s.get("confirmed_at")),
                "restricted": bool(s.get("restricted"))} for s in subscribers],
            "newsletters_sent": [{"campaign_id": d["campaign_id"], "outcome": d["outcome"],
                                  "at": wire_time(d.get("at"))} for d in sends],
            "suppressed": self._repo.is_suppressed(subject_key) if subject_key else False,
        }
