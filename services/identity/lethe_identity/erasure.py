"""Identity's part of an erasure or restriction (SPEC section 3, first two rows).

Erasure deletes the account, its sessions and links, and the person's contact
requests at once; a tombstone keeps only subject_key, request id and time.
Restriction marks the account: log-in still works, staff cannot change it,
and the person's contact requests leave staff queues until it is lifted.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from lethe_common.privacy import PrivacyEvent, Receipt, ReceiptSender
from lethe_identity.repository import IdentityRepository

log = logging.getLogger(__name__)


class IdentityErasure:
    def __init__(self, repo: IdentityRepository, receipts: ReceiptSender) -> None:
        self._repo = repo
        self._receipts = receipts

    def erase(self, request: PrivacyEvent, now: datetime | None = None) -> Receipt:
        now = now or datetime.now(UTC)
        counts = self._repo.erase_subject(request.account_id, request.subject_key,
                                          request.request_id, now)
        receipt = Receipt(
            request_id=request.request_id, kind="erasure",
            deleted=("account (e-mail address, name, phone, password hash, portal access)",
                     "sessions and e-mail verification links",
                     "contact and callback requests"),
            kept=("a tombstone of subject key, request id and time: proof that the erasure "
                  "was carried out, Art. 5(2) GDPR",),
            note=", ".join(f"{count} {what}" for what, count in counts.items()))
        self._receipts.send(receipt, request.subject_key)
        log.info("erasure handled", extra={"request_id": request.request_id, **counts})
        return receipt

    def restrict(self, request: PrivacyEvent) -> Receipt:
        restricted = request.kind == "restriction"
        counts = self._repo.set_restricted(request.account_id, request.subject_key, restricted)
        if restricted:
            receipt = Receipt(request_id=request.request_id, kind=request.kind,
                              blocked=("account: no marketing, no profiling, no changes by staff; "
                                       "log-in still allowed",
                                       "contact and callback requests: hidden from staff queues"),
                              blocked_until="until the person lifts the restriction",
                              note=", ".join(f"{n} {what}" for what, n in counts.items()))
        else:
            receipt = Receipt(request_id=request.request_id, kind=request.kind,
                              note="restriction lifted: account and contact requests as before")
        self._receipts.send(receipt, request.subject_key)
        return receipt
