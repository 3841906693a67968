"""The consent service's own part of an erasure or restriction, and its retention.

On erasure the person's consent records are pseudonymised: e-mail, name and
client address go; subject_key, purpose, text version and times stay as
proof of what was agreed when (Art. 7(1)). The staff audit entries about the
person are trimmed to the subject key, the action, the actor and the time, and
the receipt declares the trail kept (staff may still act on the erasure request
itself, e.g. run its proof, which is recorded under the same subject key).
Records are deleted once the proof period after the withdrawal or erasure has
passed: every withdrawal and every pseudonymisation puts an entry in the
expiries queue, and the sweep reads only the entries that are due.

The erasure runs in the worker (the bus event) and in the API (``EraseSubject``),
possibly at once: each step is idempotent. Withdrawals are appended to the
person's record logs (one wins per purpose), pseudonymisation removes the same
fields whoever does it, and the receipt is sent once (``ReceiptSender``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from lethe_common.audit import AUDIT, DEFAULT_RETENTION_DAYS
from lethe_common.privacy import PrivacyEvent, Receipt, ReceiptSender, Retained
from lethe_common.subject import Subject
from lethe_consent.expiries import due_entries
from lethe_consent.record_store import OWNERS, RECORDS
from lethe_consent.records import MARK_EXPIRIES, RECORD_EXPIRIES, ConsentLedger
from lethe_consent.repository import EXPIRIES, ConsentRepository
from lethe_consent.request_store import RECEIPTS, REQUEST_STEPS, REQUESTS, VERIFICATIONS

log = logging.getLogger(__name__)

AUDIT_KEPT = (
    "the staff audit entries about you and your requests: what staff did and when, under your "
    "subject key only (no reason, no detail), as proof of how your data and requests were "
    "handled, Art. 5(2) GDPR",
)


def proof_places(records_until: str, proof_days: int) -> tuple[Retained, ...]:
    """What the proof of erasure finds of the person here and may: the pseudonymised
    records until ``records_until``, the request ledger until ``proof_days`` after each
    request closed, and the index and expiry entries that find them, as long as those."""
    ledger = f"{proof_days} days after the request is complete"
    return (
        Retained(RECORDS, records_until),
        Retained(EXPIRIES, records_until),
        Retained(OWNERS, f"{records_until} (records); {ledger} (requests)"),
        *(Retained(c, ledger) for c in (REQUESTS, REQUEST_STEPS, RECEIPTS, VERIFICATIONS)),
    )


class ConsentErasure:
    def __init__(
        self,
        repo: ConsentRepository,
        ledger: ConsentLedger,
        receipts: ReceiptSender,
        proof_retention_days: int,
        audit_retention_days: int = DEFAULT_RETENTION_DAYS,
    ) -> None:
        self._audit = repo.audit
        self._audit_days = audit_retention_days
        self._requests = repo.requests
        self._expiries = repo.expiries
        self._ledger = ledger
        self._receipts = receipts
        self._proof_days = proof_retention_days

    def erase(self, request: PrivacyEvent, now: datetime | None = None) -> Receipt:
        """Pseudonymise the person's records; idempotent, so a repeat sends no second receipt."""
        now = now or datetime.now(UTC)
        subject = request.subject
        self._ledger.mark_erased(subject, now)
        ended = self._ledger.end_all(subject, "erasure", now)
        self._ledger.schedule_pseudonymised_expiry(subject, request.request_id, now)
        changed = self._ledger.pseudonymise(subject, now)
        self._forget_request_contacts(subject)
        audited = self._forget_audit(subject, request.request_id)
        until = (now + timedelta(days=self._proof_days)).date().isoformat()
        audit_until = (now + timedelta(days=self._audit_days)).date().isoformat()
        receipt = Receipt(
            request_id=request.request_id,
            kind="erasure",
            deleted=("e-mail address, name and client address in every consent record",),
            kept=(
                f"consent records (subject key, account id, purpose, text version, times) "
                f"until {until}: proof of consent, Art. 7(1) GDPR",
                "the privacy-request ledger (kinds, dates, receipts, the subject key and "
                f"account id a request was filed for) until {self._proof_days} days after "
                "each request closed: proof that requests were answered, Art. 5(2) GDPR",
                "index entries by subject key and account id that find these records and "
                "requests, until those go; a mark of the erasure for an hour (a consent "
                "landing meanwhile is pseudonymised too)",
                *(AUDIT_KEPT if audited else ()),
            ),
            note=f"{len(ended)} consents ended, {changed} records pseudonymised",
            retained=(
                *proof_places(until, self._proof_days),
                *((Retained(AUDIT, audit_until),) if audited else ()),
            ),
        )
        self._receipts.send(receipt, subject.subject_key)
        log.info("erasure handled", extra={"request_id": request.request_id, "records": changed})
        return receipt

    def _forget_audit(self, subject: Subject, request_id: str) -> bool:
        """Trim the staff audit entries about the person; whether the trail keeps (or may
        come to keep) any about them: entries there are now, or this erasure is a request of
        the ledger, which staff may still act on after this receipt (move it on, run its
        proof of erasure), each recorded under the person's subject key."""
        if not subject.subject_key:
            return self._requests.get(request_id) is not None
        for key in subject.all_keys():
            self._audit.forget(key)
        audited = any(self._audit.about(key) for key in subject.all_keys())
        return audited or self._requests.get(request_id) is not None

    def _forget_request_contacts(self, subject: Subject) -> None:
        """The address of every unconfirmed request of the person goes, and any unused
        download link (the request stays)."""
        for request_id in self._requests.owned_by(subject):
            self._requests.delete_contact(request_id)
            self._requests.delete_download(request_id)

    def restrict(self, request: PrivacyEvent) -> Receipt:
        """Consent records are only kept as proof: there is no processing to restrict."""
        receipt = Receipt(
            request_id=request.request_id,
            kind=request.kind,
            note="consent records are kept only as proof and are not processed "
            "otherwise; nothing to restrict",
        )
        self._receipts.send(receipt, request.subject.subject_key)
        return receipt

    def sweep(self, now: datetime | None = None) -> dict[str, int]:
        """Delete records whose proof period has passed; counts only, never whose."""
        now = now or datetime.now(UTC)
        pseudonymised = chains = 0
        for entry in due_entries(self._expiries, RECORD_EXPIRIES, now):
            if entry.get("what") == "chain":
                chains += self._ledger.expire_chain(entry["subject_key"], entry["purpose"], entry["item"])
            else:
                pseudonymised += self._ledger.expire_pseudonymised(Subject.from_doc(entry), now)
            self._expiries.remove(entry["_id"])
        for entry in due_entries(self._expiries, MARK_EXPIRIES, now):
            self._ledger.forget_mark(list(entry.get("owners", [])), str(entry.get("mark", "")))
            self._expiries.remove(entry["_id"])
        return {"pseudonymised_records": pseudonymised, "withdrawn_records": chains}
