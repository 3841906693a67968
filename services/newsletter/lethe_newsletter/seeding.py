"""Active subscribers written in bulk, exactly as a confirmed subscription leaves them.

For tests and benchmarks only (off every hot path): new step logs by ``insert_many``,
without the consent service or the confirmation mail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lethe_common import tokens
from lethe_common.mongo import Db, Document
from lethe_common.store.keys import key
from lethe_common.store.steps import StepLog
from lethe_common.subject import subject_key
from lethe_newsletter.lifecycle import CONFIRMED, CONFIRMING, REQUESTED, step, subscriber_id
from lethe_newsletter.models import to_millis
from lethe_newsletter.repository import ACCOUNT_KIND, SUBSCRIBER_INDEX, SUBSCRIBER_STEPS


@dataclass(frozen=True)
class Reader:
    email: str
    name: str = ""
    account_id: str = ""


def active_steps(
    pepper: str, reader: Reader, confirmed_at: datetime, consent_version: str = "2026-01"
) -> list[Document]:
    """The three steps of a confirmed subscription: requested, confirming, confirmed."""
    key_ = subject_key(pepper, reader.email)
    subscriber = subscriber_id(key_)
    at = to_millis(confirmed_at)
    claim = tokens.new_id("cc")
    fields = [
        step(
            REQUESTED,
            subject_key=key_,
            email=reader.email,
            name=reader.name,
            account_id=reader.account_id,
            consent_version=consent_version,
            pending_since=int(at.timestamp() * 1000),
            requested_at=at,
            confirmation_requested_at=at,
            client_address="",
        ),
        step(CONFIRMING, at=at, claim=claim),
        step(CONFIRMED, at=at, claim=claim, consent_record_id=tokens.new_id("cr")),
    ]
    return [{**doc, "_id": StepLog.step_id(subscriber, n), "n": n} for n, doc in enumerate(fields)]


def seed_active(db: Db, pepper: str, readers: list[Reader], confirmed_at: datetime) -> list[str]:
    """Write active subscribers; their subscriber ids, in the order given."""
    docs, index = [], []
    for reader in readers:
        docs += active_steps(pepper, reader, confirmed_at)
        if reader.account_id:
            index.append(
                {
                    "_id": key(
                        reader.account_id, ACCOUNT_KIND, subscriber_id(subject_key(pepper, reader.email))
                    )
                }
            )
    for start in range(0, len(docs), 3000):
        db[SUBSCRIBER_STEPS].insert_many(docs[start : start + 3000])
    if index:
        db[SUBSCRIBER_INDEX].insert_many(index)
    return [subscriber_id(subject_key(pepper, reader.email)) for reader in readers]
