"""The analytics part of an erasure, a restriction and a withdrawal, and its data export.

SPEC §3: on erasure the visitor data goes; on withdrawal of the analytics consent it stops
at once and the visitor's events go; a restriction has nothing to block (page views kept
with consent serve only the aggregate report). The counts per day and path name no one
and are neither deleted nor exported.
"""

from __future__ import annotations

import logging
from typing import Any

from lethe_analytics.analytics import Analytics
from lethe_analytics.repository import VISITOR_LINKS, VISITS, AnalyticsRepository
from lethe_common.privacy import PrivacyEvent, Receipt, ReceiptSender
from lethe_common.privacy_api import wire_time
from lethe_common.subject import Subject

log = logging.getLogger(__name__)

NONE_HELD = "no page views kept with the analytics consent for this person"
NOTHING_TO_RESTRICT = (
    "analytics keeps page views only with the consent and uses them only for aggregate "
    "statistics: nothing to restrict"
)
NOTHING_TO_LIFT = "analytics blocked nothing for this person: nothing to lift"


class AnalyticsErasure:
    def __init__(self, analytics: Analytics, repo: AnalyticsRepository, receipts: ReceiptSender) -> None:
        self._analytics = analytics
        self._repo = repo
        self._receipts = receipts

    def erase(self, request: PrivacyEvent) -> Receipt:
        """Idempotent: a repeat deletes nothing new and sends no second receipt.

        Two workers may handle one request at once (a redelivery); the receipt must say what
        was deleted whichever of them sends it, so each records what it found before it
        deletes anything, and the first record is what the receipt says."""
        keys = request.subject.all_keys()  # an earlier address's key too (issue 18)
        held = [self._analytics.held_by(key) for key in keys]
        visits, visitors = sum(h[0] for h in held), sum(h[1] for h in held)
        found = self._repo.first_finding(request.request_id, {"visits": visits, "visitors": visitors})
        for key in keys:
            self._analytics.forget_person(key)
        receipt = self._receipt(request, int(found["visits"]), int(found["visitors"]))
        self._receipts.send(receipt, request.subject.subject_key)
        self._repo.drop_finding(request.request_id)
        log.info("erasure handled", extra={"request_id": request.request_id, "visits": visits})
        return receipt

    @staticmethod
    def _receipt(request: PrivacyEvent, visits: int, visitors: int) -> Receipt:
        if not visits and not visitors:
            return Receipt(request_id=request.request_id, kind="erasure", note=NONE_HELD)
        return Receipt(
            request_id=request.request_id,
            kind="erasure",
            deleted=(
                f"page views kept with the analytics consent (page and time): {VISITS}",
                "the same for the visitor cookies the person was seen with, also from before they logged in",
                f"the links between those visitor cookies and the person: {VISITOR_LINKS}",
            ),
            note=f"{visits} page view(s) of {visitors} visitor cookie(s) deleted",
        )

    def restrict(self, request: PrivacyEvent) -> Receipt:
        """SPEC §3 has no restriction for analytics; the receipt says so (as consent's does)."""
        note = NOTHING_TO_RESTRICT if request.kind == "restriction" else NOTHING_TO_LIFT
        receipt = Receipt(request_id=request.request_id, kind=request.kind, note=note)
        self._receipts.send(receipt, request.subject.subject_key)
        return receipt

    def consent_withdrawn(self, subject: Subject) -> int:
        """The analytics consent ended: the person's visits and links go at once. Consent
        keeps the proof of the withdrawal, so no receipt is sent. Returns the visits deleted."""
        forgotten = self._analytics.forget_person(subject.subject_key)
        log.info("analytics consent withdrawn", extra={"visits": forgotten.visits, "links": forgotten.links})
        return forgotten.visits

    def export(self, subject: Subject) -> dict[str, Any]:
        """The person's page views: page and time (no visitor id: the service keeps only
        its keyed hash, which tells the person nothing)."""
        visits = [doc for key in subject.all_keys() for doc in self._analytics.visits_of_person(key)]
        return {
            "page_views": [
                {"path": doc["path"], "at": wire_time(doc["at"]), "logged_in": "subject_key" in doc}
                for doc in visits
            ]
        }
