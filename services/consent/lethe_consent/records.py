"""The consent ledger: grants, withdrawals and refusals, appended and never edited.

A person's state for a purpose is their latest record for it. Every grant
names the text version shown, and the overview joins each grant to that
exact text ("Wiedergabe von Einwilligungserklärungen"), however many newer
versions have been published since.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from lethe_common import tokens
from lethe_common.errors import FailedPrecondition, InvalidArgument
from lethe_common.events.envelope import Envelope
from lethe_common.mongo import Document
from lethe_common.netaddr import truncate_address
from lethe_common.subject import subject_key
from lethe_common.validation import email as checked_email
from lethe_common.validation import object_id, text
from lethe_consent.models import Overview, RecordView, StateView
from lethe_consent.repository import ConsentRepository
from lethe_consent.texts import ConsentTexts

log = logging.getLogger(__name__)

CHANNELS = ("web_form", "double_opt_in", "admin")
# Channels a withdrawal may come through besides those: the erasure itself, and the
# link in every newsletter.
WITHDRAWAL_CHANNELS = (*CHANNELS, "erasure", "unsubscribe_link")
GPC = "global_privacy_control"
ANALYTICS = "analytics"
STATE_OF_ACTION = {"grant": "granted", "withdrawal": "withdrawn", "refusal": "refused"}


@dataclass(frozen=True)
class Subject:
    """A person as the ledger files them: account id where known, always subject_key."""

    account_id: str
    subject_key: str
    email: str = ""
    name: str = ""

    def fields(self) -> Document:
        doc: Document = {"account_id": self.account_id, "subject_key": self.subject_key}
        if self.email:
            doc["email"] = self.email
        if self.name:
            doc["name"] = self.name
        return doc


def subject_of(pepper: str, account_id: str, email: str, name: str = "") -> Subject:
    """Check who a call is about; the e-mail address is required (it gives subject_key)."""
    if account_id:
        object_id(account_id, "account_id")
    address = checked_email(email)
    return Subject(account_id=account_id, subject_key=subject_key(pepper, address), email=address,
                   name=text(name, "name", max_length=200, required=False))


def latest_by_purpose(records: list[Document]) -> dict[str, Document]:
    latest: dict[str, Document] = {}
    for record in records:  # oldest first, so the last one wins
        latest[record["purpose"]] = record
    return latest


class ConsentLedger:
    def __init__(self, repo: ConsentRepository, texts: ConsentTexts) -> None:
        self._repo = repo
        self._texts = texts

    def _append(self, subject: Subject, purpose: str, action: str, *, version: str = "",
                channel: str, reason: str = "", client_address: str = "",
                record_id: str = "", publish: bool = True,
                now: datetime | None = None) -> RecordView:
        now = now or datetime.now(UTC)
        doc: Document = {
            "_id": record_id or tokens.new_ordered_id("cr"), "purpose": purpose, "action": action,
            "version": version, "channel": channel, "reason": reason, "recorded_at": now,
            "client_address": truncate_address(client_address), **subject.fields()}
        events = [self._event(doc, subject)] if publish and action != "refusal" else []
        if not self._repo.insert_record(doc, events):
            log.info("consent record exists already", extra={"record_id": doc["_id"]})
        return RecordView.from_doc(doc)

    @staticmethod
    def _event(doc: Document, subject: Subject) -> Envelope:
        common = {"record_id": doc["_id"], "account_id": subject.account_id,
                  "purpose": doc["purpose"], "channel": doc["channel"]}
        if doc["action"] == "grant":
            return Envelope(type="consent.granted", source="consent",
                            subject_key=subject.subject_key,
                            payload={**common, "version": doc["version"]})
        return Envelope(type="consent.withdrawn", source="consent",
                        subject_key=subject.subject_key,
                        payload={**common, "reason": doc["reason"]})

    def _latest(self, subject: Subject, purpose: str) -> Document | None:
        return latest_by_purpose(self._repo.records_of(subject.account_id,
                                                       subject.subject_key)).get(purpose)

    def grant(self, subject: Subject, purpose: str, version: str, channel: str,
              client_address: str = "", gpc: bool = False) -> RecordView:
        """Record agreement to the current text; the GPC signal turns analytics into a refusal."""
        if channel not in CHANNELS:
            raise InvalidArgument(f"channel must be one of {', '.join(CHANNELS)}")
        current = self._texts.consent_purpose(purpose)
        if version != current.current_version:
            raise InvalidArgument(
                f"version {version[:32]} of the {purpose} text is not the current one "
                f"({current.current_version}); please agree to the current text")
        latest = self._latest(subject, purpose)
        if gpc and purpose == ANALYTICS:
            if latest is not None and latest["action"] == "refusal" and latest["reason"] == GPC:
                return RecordView.from_doc(latest)
            return self._append(subject, purpose, "refusal", channel=channel, reason=GPC,
                                client_address=client_address, publish=False)
        if latest is not None and latest["action"] == "grant" and latest["version"] == version:
            return RecordView.from_doc(latest)
        return self._append(subject, purpose, "grant", version=version, channel=channel,
                            client_address=client_address)

    def record_account_consent(self, subject: Subject, version: str, event_id: str) -> RecordView:
        """The account consent given at registration, confirmed by the verification mail.

        The record's id comes from the event, so a redelivered event adds nothing.
        The version need not be current: it is the one the person was shown.
        """
        if not self._texts.texts_for([("account", version)]):
            raise InvalidArgument("account.verified names an account text version that does not exist")
        return self._append(subject, "account", "grant", version=version, channel="double_opt_in",
                            record_id=f"cr_{event_id}")

    def withdraw(self, subject: Subject, purpose: str, channel: str, client_address: str = "",
                 reason: str = "") -> RecordView:
        """Withdraw for the future: a new record beside the grant, which stays as proof."""
        if channel not in WITHDRAWAL_CHANNELS:
            raise InvalidArgument(f"channel must be one of {', '.join(WITHDRAWAL_CHANNELS)}")
        self._texts.consent_purpose(purpose)
        latest = self._latest(subject, purpose)
        if latest is None:
            raise FailedPrecondition(f"there is no {purpose} consent to withdraw")
        if latest["action"] != "grant":
            return RecordView.from_doc(latest)
        return self._append(subject, purpose, "withdrawal", version=latest.get("version", ""),
                            channel=channel, reason=reason, client_address=client_address)

    def apply_gpc(self, subject: Subject, client_address: str = "") -> RecordView | None:
        """Sec-GPC: 1 withdraws a granted analytics consent, or records the refusal once."""
        latest = self._latest(subject, ANALYTICS)
        if latest is not None and latest["action"] != "grant":
            return None
        action = "withdrawal" if latest is not None else "refusal"
        return self._append(subject, ANALYTICS, action, version=(latest or {}).get("version", ""),
                            channel="web_form", reason=GPC, client_address=client_address)

    def end_all(self, subject: Subject, reason: str, now: datetime) -> list[str]:
        """Withdraw every granted consent without events (the erasure event says it all)."""
        ended = []
        for purpose, latest in latest_by_purpose(
                self._repo.records_of(subject.account_id, subject.subject_key)).items():
            if latest["action"] == "grant":
                self._append(subject, purpose, "withdrawal", version=latest.get("version", ""),
                             channel="erasure", reason=reason, publish=False, now=now)
                ended.append(purpose)
        return ended

    def overview(self, subject: Subject) -> Overview:
        records = self._repo.records_of(subject.account_id, subject.subject_key)
        latest = latest_by_purpose(records)
        texts = self._texts.texts_for([(r["purpose"], r["version"]) for r in records
                                       if r["action"] == "grant"])
        states = []
        for purpose in self._texts.purposes():
            if purpose.basis != "consent":
                continue
            record = latest.get(purpose.purpose)
            states.append(StateView(
                purpose=purpose.purpose,
                state=STATE_OF_ACTION[record["action"]] if record else "not_given",
                version=record.get("version", "") if record else "",
                since=record["recorded_at"] if record else None,
                current_version=purpose.current_version))
        history = [RecordView.from_doc(r, texts.get((r["purpose"], r["version"])))
                   for r in reversed(records)]
        return Overview(states=states, history=history)
