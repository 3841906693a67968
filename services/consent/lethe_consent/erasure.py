"""The consent service's own part of an erasure or restriction, and its retention.

On erasure the person's consent records are pseudonymised: e-mail, name and
client address go; subject_key, purpose, text version and times stay as
proof of what was agreed when (Art. 7(1)). Records are deleted once the
proof period after the withdrawal or erasure has passed.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from lethe_common.privacy import PrivacyEvent, Receipt, ReceiptSender
from lethe_consent.records import ConsentLedger, Subject
from lethe_consent.repository import ConsentRepository

log = logging.getLogger(__name__)


class ConsentErasure:
    def __init__(self, repo: ConsentRepository, ledger: ConsentLedger, receipts: ReceiptSender,
                 proof_retention_days: int) -> None:
        self._repo = repo
        self._ledger = ledger
        self._receipts = receipts
        self._proof_days = proof_retention_days

    def erase(self, request: PrivacyEvent, now: datetime | None = None) -> Receipt:
        """Pseudonymise the person's records; idempotent, so a repeat sends no second receipt."""
        now = now or datetime.now(UTC)
        subject = Subject(request.account_id, request.subject_key)
        ended = self._ledger.end_all(subject, "erasure", now)
        changed = self._repo.pseudonymise_records(request.account_id, request.subject_key, now)
        self._repo.forget_request_contacts(request.account_id, request.subject_key)
        until = (now + timedelta(days=self._proof_days)).date().isoformat()
        receipt = Receipt(
            request_id=request.request_id, kind="erasure",
            deleted=("e-mail address, name and client address in every consent record",),
            kept=(f"consent records (subject key, purpose, text version, times) until {until}: "
                  "proof of consent, Art. 7(1) GDPR",
                  "the privacy-request ledger (kinds, dates, receipts): proof that requests "
                  "were answered, Art. 5(2) GDPR"),
            note=f"{len(ended)} consents ended, {changed} records pseudonymised")
        self._receipts.send(receipt, request.subject_key)
        log.info("erasure handled", extra={"request_id": request.request_id,
                                           "records": changed})
        return receipt

    def restrict(self, request: PrivacyEvent) -> Receipt:
        """Consent records are only kept as proof: there is no processing to restrict."""
        receipt = Receipt(request_id=request.request_id, kind=request.kind,
                          note="consent records are kept only as proof and are not processed "
                               "otherwise; nothing to restrict")
        self._receipts.send(receipt, request.subject_key)
        return receipt

    def sweep(self, now: datetime | None = None) -> dict[str, int]:
        """Delete records whose proof period has passed; counts only, never whose."""
        now = now or datetime.now(UTC)
        cutoff = now - timedelta(days=self._proof_days)
        pseudonymised = self._repo.delete_pseudonymised_before(cutoff)
        chains = 0
        for withdrawal in self._repo.withdrawals_before(cutoff):
            chains += self._repo.delete_chain_until(withdrawal)
        return {"pseudonymised_records": pseudonymised, "withdrawn_records": chains}
