"""The consent ledger: grants, withdrawals and refusals, appended and never edited.

A person's state for a purpose is their latest record for it. Every grant
names the text version shown, and the overview joins each grant to that
exact text ("Wiedergabe von Einwilligungserklärungen"), however many newer
versions have been published since.

Each person's records of one purpose are a step log (``record_store``): a new
record is decided from the latest one and appended under the next number, so
callers racing from the same latest record (a double click, GPC on a page load
and a grant at once, an erasure handled by the API and the worker) write one
record and one event. A record that carries an address and lands while the
person is being erased pseudonymises itself (``_respect_erasure``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lethe_common import tokens
from lethe_common.errors import FailedPrecondition, InvalidArgument
from lethe_common.events.envelope import Envelope
from lethe_common.mongo import Document
from lethe_common.netaddr import truncate_address
from lethe_common.store.keys import timekey
from lethe_common.store.steps import Step
from lethe_common.subject import Subject, subject_key
from lethe_common.validation import email as checked_email
from lethe_common.validation import object_id, text
from lethe_consent.models import Overview, RecordView, StateView
from lethe_consent.record_store import PERSONAL_FIELDS
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
ENDING_ACTIONS = ("withdrawal", "refusal")
# The expiries queue of records: withdrawn chains and pseudonymised records.
RECORD_EXPIRIES = "records"
MARK_EXPIRIES = "marks"
# A record decided before an erasure of its person began, or less than this after it (the
# clocks of two processes need not agree), is pseudonymised when it lands after the
# erasure read the records. A mark outlives every write that can still be in flight.
ERASURE_LAG = timedelta(minutes=1)
MARK_TTL = timedelta(hours=1)
# Given the person's records of one purpose (oldest first): the new record's fields, or
# None when there is nothing to record.
Decision = Callable[[list[Document]], Document | None]


@dataclass(frozen=True)
class Person:
    """A person as the ledger files them (account id where known, always subject_key), with
    the address and name a record written for them keeps until an erasure."""

    subject: Subject
    email: str = ""
    name: str = ""

    def fields(self) -> Document:
        doc: Document = self.subject.fields()
        if self.email:
            doc["email"] = self.email
        if self.name:
            doc["name"] = self.name
        return doc


def person_of(pepper: str, account_id: str, email: str, name: str = "") -> Person:
    """Check who a call is about; the e-mail address is required (it gives subject_key)."""
    if account_id:
        object_id(account_id, "account_id")
    address = checked_email(email)
    return Person(
        Subject(account_id=account_id, subject_key=subject_key(pepper, address)),
        email=address,
        name=text(name, "name", max_length=200, required=False),
    )


def in_order(records: list[Document]) -> list[Document]:
    """Oldest first; within one log the step number decides (it is in the key)."""
    return sorted(records, key=lambda r: (r["recorded_at"], str(r["_id"])))


def latest_by_purpose(records: list[Document]) -> dict[str, Document]:
    latest: dict[str, Document] = {}
    for record in records:  # oldest first, so the last one wins
        latest[record["purpose"]] = record
    return latest


class ConsentLedger:
    def __init__(self, repo: ConsentRepository, texts: ConsentTexts, proof_retention_days: int) -> None:
        self._records = repo.records
        self._expiries = repo.expiries
        self._texts = texts
        self._proof = timedelta(days=proof_retention_days)

    # -- reading ----------------------------------------------------------------------------
    def history(self, subject: Subject) -> list[Document]:
        """The person's records, oldest first: everything under their subject key, what
        their account filed under earlier keys (one range per key), and what was filed
        without an account under the earlier addresses the request names (issue 18: a
        double opt-in made before the address changed)."""
        found = list(self._records.of_subject(subject.subject_key))
        for other in self._other_keys(subject):
            found += [
                doc for doc in self._records.of_subject(other) if doc.get("account_id") == subject.account_id
            ]
        for former in subject.former_keys:  # (the account's own records there came above)
            found += [doc for doc in self._records.of_subject(former) if not doc.get("account_id")]
        return in_order(found)

    def _other_keys(self, subject: Subject) -> list[str]:
        return [k for k in self._records.keys_of(subject.account_id) if k != subject.subject_key]

    def _others(self, subject: Subject, purpose: str) -> list[Document]:
        """The account's records of ``purpose`` under earlier subject keys."""
        return [
            doc
            for other in self._other_keys(subject)
            for doc in self._records.steps(other, purpose)
            if doc.get("account_id") == subject.account_id
        ]

    # -- writing ----------------------------------------------------------------------------
    def _record(
        self,
        person: Person,
        purpose: str,
        decide: Decision,
        *,
        record_id: str = "",
        publish: bool = True,
        now: datetime | None = None,
        expires: bool = True,
    ) -> tuple[Document | None, bool]:
        """Append the record ``decide`` asks for; returns it and True, or the latest record
        (None if there is none) and False when ``decide`` found nothing to record."""
        record_id = record_id or tokens.new_ordered_id("cr")
        subject = person.subject
        others = self._others(subject, purpose)
        self._records.note_key(subject)
        latest: list[Document | None] = [None]

        def step_of(steps: list[Document]) -> Step | None:
            records = in_order([*others, *steps])
            fields = decide(records)
            if fields is None:
                latest[0] = records[-1] if records else None
                return None
            doc: Document = {
                "id": record_id,
                "purpose": purpose,
                "version": "",
                "channel": "",
                "reason": "",
                "recorded_at": now or datetime.now(UTC),
                **person.fields(),
                **fields,
            }
            doc["client_address"] = truncate_address(doc.get("client_address", ""))
            events = [self._event(doc, subject)] if publish and doc["action"] != "refusal" else []
            return Step(doc, events)

        def before(step: Step) -> None:
            if expires and step.fields["action"] in ENDING_ACTIONS:
                self._expiries.schedule(
                    RECORD_EXPIRIES,
                    step.fields["recorded_at"] + self._proof,
                    record_id,
                    what="chain",
                    subject_key=subject.subject_key,
                    purpose=purpose,
                )

        appended = self._records.log.append_next(
            self._records.thing(subject.subject_key, purpose), step_of, before
        )
        if appended.step is None:
            return latest[0], False
        self._respect_erasure(appended.step)
        return appended.step, True

    def _respect_erasure(self, doc: Document) -> None:
        """An erasure pseudonymises the records it finds; one written while it ran (the
        newsletter's double-opt-in grant at that moment) pseudonymises itself. The writer
        inserted the record before reading the marks and the erasure set its mark before
        reading the records, so at least one of them sees the other."""
        if not any(doc.get(name) for name in PERSONAL_FIELDS):
            return
        subject = Subject.from_doc(doc)
        if self.erased_around(subject, doc["recorded_at"]):
            now = datetime.now(UTC)
            self.schedule_pseudonymised_expiry(subject, doc["id"], now)
            self._records.pseudonymise(doc["_id"], now)
            log.info("record written during an erasure pseudonymised", extra={"record_id": doc["id"]})

    @staticmethod
    def _event(doc: Document, subject: Subject) -> Envelope:
        common = {
            "record_id": doc["id"],
            "account_id": subject.account_id,
            "purpose": doc["purpose"],
            "channel": doc["channel"],
        }
        if doc["action"] == "grant":
            return Envelope(
                type="consent.granted",
                source="consent",
                subject_key=subject.subject_key,
                payload={**common, "version": doc["version"]},
            )
        return Envelope(
            type="consent.withdrawn",
            source="consent",
            subject_key=subject.subject_key,
            payload={**common, "reason": doc["reason"]},
        )

    def grant(
        self,
        person: Person,
        purpose: str,
        version: str,
        channel: str,
        client_address: str = "",
        gpc: bool = False,
    ) -> RecordView:
        """Record agreement to the current text; the GPC signal turns analytics into a refusal."""
        if channel not in CHANNELS:
            raise InvalidArgument(f"channel must be one of {', '.join(CHANNELS)}")
        current = self._texts.consent_purpose(purpose)
        if version != current.current_version:
            raise InvalidArgument(
                f"version {version[:32]} of the {purpose} text is not the current one "
                f"({current.current_version}); please agree to the current text"
            )
        refuse = gpc and purpose == ANALYTICS

        def decide(records: list[Document]) -> Document | None:
            latest = records[-1] if records else None
            if refuse:
                if latest is not None and latest["action"] == "refusal" and latest["reason"] == GPC:
                    return None
                return {
                    "action": "refusal",
                    "channel": channel,
                    "reason": GPC,
                    "client_address": client_address,
                }
            if latest is not None and latest["action"] == "grant" and latest["version"] == version:
                return None
            return {
                "action": "grant",
                "version": version,
                "channel": channel,
                "client_address": client_address,
            }

        record, _ = self._record(person, purpose, decide)
        assert record is not None  # decide records something whenever nothing is on record
        return RecordView.from_doc(record)

    def record_account_consent(self, subject: Subject, version: str, event_id: str) -> RecordView:
        """The account consent given at registration, confirmed by the verification mail.

        The record's id comes from the event, so a redelivered event, even one handled by
        two workers at once, adds nothing. The version need not be current: it is the one
        the person was shown.
        """
        if not self._texts.has_text("account", version):
            raise InvalidArgument("account.verified names an account text version that does not exist")
        record_id = f"cr_{event_id}"
        found: list[Document] = []

        def decide(records: list[Document]) -> Document | None:
            found[:] = [r for r in records if r.get("id") == record_id]
            if found:
                return None
            return {"action": "grant", "version": version, "channel": "double_opt_in"}

        record, written = self._record(Person(subject), "account", decide, record_id=record_id)
        if not written and found:
            record = found[0]
        assert record is not None
        return RecordView.from_doc(record)

    def withdraw(
        self, person: Person, purpose: str, channel: str, client_address: str = "", reason: str = ""
    ) -> RecordView:
        """Withdraw for the future: a new record beside the grant, which stays as proof."""
        if channel not in WITHDRAWAL_CHANNELS:
            raise InvalidArgument(f"channel must be one of {', '.join(WITHDRAWAL_CHANNELS)}")
        self._texts.consent_purpose(purpose)

        def decide(records: list[Document]) -> Document | None:
            if not records:
                raise FailedPrecondition(f"there is no {purpose} consent to withdraw")
            latest = records[-1]
            if latest["action"] != "grant":
                return None
            return {
                "action": "withdrawal",
                "version": latest.get("version", ""),
                "channel": channel,
                "reason": reason,
                "client_address": client_address,
            }

        record, _ = self._record(person, purpose, decide)
        assert record is not None
        return RecordView.from_doc(record)

    def apply_gpc(self, person: Person, client_address: str = "") -> RecordView | None:
        """Sec-GPC: 1 withdraws a granted analytics consent, or records the refusal once."""

        def decide(records: list[Document]) -> Document | None:
            latest = records[-1] if records else None
            if latest is not None and latest["action"] != "grant":
                return None
            return {
                "action": "withdrawal" if latest is not None else "refusal",
                "version": (latest or {}).get("version", ""),
                "channel": "web_form",
                "reason": GPC,
                "client_address": client_address,
            }

        record, written = self._record(person, ANALYTICS, decide)
        return RecordView.from_doc(record) if written and record is not None else None

    def end_all(self, subject: Subject, reason: str, now: datetime) -> list[str]:
        """Withdraw every granted consent without events (the erasure event says it all).
        The pseudonymised records' expiry covers these withdrawals."""

        def decide(records: list[Document]) -> Document | None:
            latest = records[-1] if records else None
            if latest is None or latest["action"] != "grant":
                return None
            return {
                "action": "withdrawal",
                "version": latest.get("version", ""),
                "channel": "erasure",
                "reason": reason,
            }

        ended = []
        for purpose, latest in latest_by_purpose(self.history(subject)).items():
            if latest["action"] == "grant":
                _, written = self._record(
                    Person(subject), purpose, decide, publish=False, now=now, expires=False
                )
                if written:
                    ended.append(purpose)
        return ended

    def overview(self, subject: Subject) -> Overview:
        records = self.history(subject)
        latest = latest_by_purpose(records)
        texts = self._texts.texts_for(
            [(r["purpose"], r["version"]) for r in records if r["action"] == "grant"]
        )
        states = []
        for purpose in self._texts.purposes():
            if purpose.basis != "consent":
                continue
            record = latest.get(purpose.purpose)
            states.append(
                StateView(
                    purpose=purpose.purpose,
                    state=STATE_OF_ACTION[record["action"]] if record else "not_given",
                    version=record.get("version", "") if record else "",
                    since=record["recorded_at"] if record else None,
                    current_version=purpose.current_version,
                )
            )
        history = [RecordView.from_doc(r, texts.get((r["purpose"], r["version"]))) for r in reversed(records)]
        return Overview(states=states, history=history)

    # -- erasure and retention ----------------------------------------------------------------
    def mark_erased(self, subject: Subject, now: datetime) -> None:
        """Tell writers racing this erasure to pseudonymise what they write (before the
        erasure reads the records); the mark goes after ``MARK_TTL``."""
        mark = timekey(now)
        self._expiries.schedule(
            MARK_EXPIRIES, now + MARK_TTL, subject.subject_key, owners=subject.owners(), mark=mark
        )
        for owner in subject.owners():
            self._records.mark_erased(owner, mark, now)

    def schedule_pseudonymised_expiry(self, subject: Subject, item: str, now: datetime) -> None:
        """Before records are pseudonymised at ``now``: delete them once the proof period
        after that has passed."""
        self._expiries.schedule(
            RECORD_EXPIRIES,
            now + self._proof,
            item,
            what="pseudonymised",
            **subject.stored(),
        )

    def pseudonymise(self, subject: Subject, now: datetime) -> int:
        return sum(
            self._records.pseudonymise(doc["_id"], now)
            for doc in self.history(subject)
            if "pseudonymised_at" not in doc
        )

    def expire_pseudonymised(self, subject: Subject, now: datetime) -> int:
        """Delete the person's records pseudonymised a proof period ago or longer."""
        cutoff = now - self._proof
        gone = self._records.delete(
            [
                doc["_id"]
                for doc in self.history(subject)
                if doc.get("pseudonymised_at") and doc["pseudonymised_at"] <= cutoff
            ]
        )
        if subject.account_id and not self.history(subject):
            self._records.forget_keys(subject.account_id)
        return gone

    def expire_chain(self, subject_key: str, purpose: str, record_id: str) -> int:
        """Delete a withdrawn (or refused) chain: the log's steps up to the record named, and
        what the same account filed for the purpose under earlier keys before it."""
        steps = self._records.steps(subject_key, purpose)
        ending = next((s for s in steps if s.get("id") == record_id), None)
        if ending is None:
            return 0
        gone = self._records.delete_through(subject_key, purpose, str(ending["_id"]))
        account_id = ending.get("account_id", "")
        if account_id:
            subject = Subject(account_id=account_id, subject_key=subject_key)
            earlier = [
                doc["_id"]
                for doc in self._others(subject, purpose)
                if doc["recorded_at"] <= ending["recorded_at"]
            ]
            gone += self._records.delete(earlier)
            if not self.history(subject):
                self._records.forget_keys(account_id)
        return gone

    def erased_around(self, subject: Subject, written_at: datetime) -> bool:
        """Whether an erasure of this person started after ``written_at`` (the write was in
        flight) or less than ``ERASURE_LAG`` before it: what was written then must not keep
        an address. (Marks are kept for ``MARK_TTL``, far longer than a write takes.)"""
        since = written_at - ERASURE_LAG
        return any(at > since for owner in subject.owners() for at in self._records.erased_at(owner))

    def withdraw_for_objection(self, person: Person, purpose: str) -> None:
        """An upheld objection withdraws the consent; nothing granted means nothing to stop."""
        with contextlib.suppress(FailedPrecondition, InvalidArgument):
            self.withdraw(person, purpose, "web_form", reason="objection")

    def forget_mark(self, owners: list[str], mark: str) -> None:
        for owner in owners:
            self._records.forget_mark(owner, mark)
