"""The only code that touches the newsletter's subscriber collections (campaigns: see
:mod:`lethe_newsletter.campaign_repository`).

Every read and write names documents by ``_id`` (docs/architecture.md, "Every query" lists each):

- ``subscriber_steps``: each address's step log ``<subscriber id>/<number>``
  (:mod:`lethe_newsletter.lifecycle`); the subscriber id is derived from the subject_key.
- ``subscriber_index``: ``<account id>/sub/<subscriber id>``, an account's subscriptions
  (an address may have changed since it subscribed).
- ``suppression``: ``_id`` = subject_key (a keyed hash) of an erased address.
- ``restrictions``: per restriction event ``<owner>/<event time>/<request id>`` and a
  marker ``<owner>``, for owner = subject_key and account id; the latest event counts.
- ``send_log``: ``<subscriber id>/<campaign id>``, one per message: the unique insert
  before the final dot is what makes a message go once.
- ``confirmation_mails``: ``<subscriber id>/<event id>``, one confirmation mail per event.
- ``queues``: ``unconfirmed/<expiry>/<subscriber id>`` and
  ``withdrawals/<due>/<subscriber id>``, what the sweep looks at (TimeQueue).
- ``send_limits``: confirmation mails counted per address and per client, by keyed hashes
  (:mod:`lethe_common.send_limits`), each deleted once its window ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from pymongo.errors import DuplicateKeyError

from lethe_common.events.outbox import Outbox
from lethe_common.mongo import Coll, Db, Document, RetiredIndex
from lethe_common.privacy import RECEIPT_INDEXES
from lethe_common.send_limits import SEND_LIMITS
from lethe_common.store.index import OwnerIndex, TimeQueue
from lethe_common.store.keys import key, timekey, under
from lethe_common.store.paging import page, scan
from lethe_common.store.steps import MAX_ATTEMPTS, Contended, Step, StepLog
from lethe_newsletter.lifecycle import Life, fold

SUBSCRIBER_STEPS = "subscriber_steps"
SUBSCRIBER_INDEX = "subscriber_index"
SUPPRESSION = "suppression"
RESTRICTIONS = "restrictions"
SEND_LOG = "send_log"
CONFIRMATION_MAILS = "confirmation_mails"
QUEUES = "queues"
ACCOUNT_KIND = "sub"
# Every subscriber id starts with "sub_": the whole log is this one _id range.
ALL_SUBSCRIBERS = {"$gte": "sub_", "$lt": "sub`"}

# Indexes of the layout before issue 12: dropped at start-up (every lookup is by _id now).
INDEXES = [
    RetiredIndex("subscribers", "subject_key_1"),
    RetiredIndex("subscribers", "account_id_1"),
    RetiredIndex("subscribers", "status_1__id_1"),
    RetiredIndex("subscribers", "_outbox_due_1"),
    RetiredIndex("campaigns", "status_1_created_at_-1"),
    RetiredIndex(SEND_LOG, "campaign_id_1"),
    RetiredIndex(SEND_LOG, "subscriber_id_1"),
    *RECEIPT_INDEXES,
]

Decide = Callable[[Life], Step | None]


@dataclass(frozen=True)
class Appended:
    """A move of a subscriber: the life it was decided on and the step appended (or None)."""

    before: Life
    step: Document | None


def _insert_once(collection: Coll, doc: Document) -> bool:
    try:
        collection.insert_one(doc)
    except DuplicateKeyError:
        return False
    return True


def _grouped(docs: Iterable[Document]) -> Iterator[tuple[str, list[Document]]]:
    """Steps in ``_id`` order, as (subscriber id, its steps)."""
    current, steps = "", list[Document]()
    for doc in docs:
        thing = str(doc["_id"]).split("/", 1)[0]
        if thing != current and steps:
            yield current, steps
            steps = []
        current = thing
        steps.append(doc)
    if steps:
        yield current, steps


class NewsletterRepository:
    def __init__(self, db: Db, outbox: Outbox) -> None:
        self._steps = db[SUBSCRIBER_STEPS]
        self._log = StepLog(self._steps, outbox)
        self._accounts = OwnerIndex(db[SUBSCRIBER_INDEX])
        self._suppression = db[SUPPRESSION]
        self._restrictions = db[RESTRICTIONS]
        self._send_log = db[SEND_LOG]
        self._mails = db[CONFIRMATION_MAILS]
        self._queues = TimeQueue(db[QUEUES])
        # Counted confirmation mails, per address and per client (lethe_common.send_limits).
        self.send_limits = db[SEND_LIMITS]

    # -- subscribers ----------------------------------------------------------------------
    def life(self, subscriber: str) -> Life:
        return fold(subscriber, self._log.steps(subscriber))

    def append(self, subscriber: str, decide: Decide) -> Appended:
        """Read the subscriber, let ``decide`` name the next step (None: nothing to do) and
        append it; when another writer got there first, read and decide again.

        A writer whose read predates the end of a life could put its step where the
        deleted steps were: it finds the step before its own gone, and takes its step out.
        """
        for _ in range(MAX_ATTEMPTS):
            life = self.life(subscriber)
            chosen = decide(life)
            if chosen is None:
                return Appended(life, None)
            number = life.last_n + 1
            if not self._log.append(subscriber, number, chosen):
                continue
            step_id = StepLog.step_id(subscriber, number)
            if number and not self._exists(StepLog.step_id(subscriber, number - 1)):
                self._steps.delete_one({"_id": step_id})
                continue
            return Appended(replace(life), {**chosen.fields, "_id": step_id, "n": number})
        raise Contended("this subscription was changed by others many times at once; please try again")

    def _exists(self, step_id: str) -> bool:
        return self._steps.find_one({"_id": step_id}, projection={"_id": 1}) is not None

    def changed_since(self, subscriber: str, last_n: int) -> bool:
        """Whether a step was appended after step ``last_n`` (one read by ``_id``)."""
        return self._exists(StepLog.step_id(subscriber, last_n + 1))

    def purge(self, subscriber: str, tombstone_n: int, account_ids: Iterable[str]) -> None:
        """What a life leaves behind once it ended: its account index entries, its send log,
        its confirmation-mail claims and its steps before the tombstone. The index entries
        go first: the steps name the account, and a purge cut short is done again from them."""
        for account_id in account_ids:
            self.unlink_account(account_id, subscriber)
        self._mails.delete_many({"_id": under(subscriber)})
        self._send_log.delete_many({"_id": under(subscriber)})
        self._steps.delete_many(
            {"_id": {"$gte": f"{subscriber}/", "$lt": StepLog.step_id(subscriber, tombstone_n)}}
        )

    def lives_between(self, first: str, last: str) -> dict[str, Life]:
        """Every subscriber from ``first`` to ``last`` (ids, inclusive): one ``_id`` range."""
        docs = scan(self._steps, {"$gte": f"{first}/", "$lt": f"{last}0"})
        return {thing: fold(thing, steps) for thing, steps in _grouped(docs)}

    def walk(self) -> Iterator[Life]:
        """Every subscriber in id order, read in pages of the ``_id`` index."""
        for thing, steps in _grouped(scan(self._steps, ALL_SUBSCRIBERS, batch=500)):
            yield fold(thing, steps)

    # -- an account's subscriptions -------------------------------------------------------
    def link_account(self, account_id: str, subscriber: str) -> None:
        if account_id:
            self._accounts.add(account_id, ACCOUNT_KIND, subscriber)

    def unlink_account(self, account_id: str, subscriber: str) -> None:
        if account_id:
            self._accounts.remove(account_id, ACCOUNT_KIND, subscriber)

    def subscribers_of_account(self, account_id: str) -> list[str]:
        return self._accounts.items(account_id, ACCOUNT_KIND) if account_id else []

    # -- suppression ----------------------------------------------------------------------
    def suppress(self, subject_key: str, since: datetime, reason: str) -> None:
        _insert_once(self._suppression, {"_id": subject_key, "since": since, "reason": reason})

    def lift_suppression(self, subject_key: str, confirmed_at: datetime) -> bool:
        """Only a suppression older than the confirmation goes (not an erasure after it)."""
        return bool(
            self._suppression.delete_one({"_id": subject_key, "since": {"$lt": confirmed_at}}).deleted_count
        )

    def suppressions(self, subject_keys: Sequence[str]) -> dict[str, datetime]:
        """subject_key → since, for those of ``subject_keys`` that are suppressed."""
        keys = sorted({k for k in subject_keys if k})
        if not keys:
            return {}
        return {
            doc["_id"]: doc["since"]
            for doc in self._suppression.find({"_id": {"$in": keys}}, projection={"since": 1})
        }

    # -- restrictions ---------------------------------------------------------------------
    def record_restriction(
        self, owners: Iterable[str], at: datetime, request_id: str, restricted: bool
    ) -> None:
        """One entry per owner and event; the same event again changes nothing."""
        for owner in {o for o in owners if o}:
            _insert_once(self._restrictions, {"_id": owner})
            _insert_once(
                self._restrictions,
                {"_id": key(owner, timekey(at), request_id), "restricted": restricted, "at": at},
            )

    def latest_restrictions(self, owners: Iterable[str]) -> dict[str, Document]:
        """owner → its latest restriction entry, for the owners that have any: one read of
        the markers, then one of each marked owner's entries."""
        wanted = sorted({o for o in owners if o})
        if not wanted:
            return {}
        marked = [
            doc["_id"] for doc in self._restrictions.find({"_id": {"$in": wanted}}, projection={"_id": 1})
        ]
        latest = {}
        for owner in marked:
            found = page(self._restrictions, under(owner), limit=1, descending=True).items
            if found:
                latest[owner] = found[0]
        return latest

    def forget_restrictions(self, owners: Iterable[str]) -> None:
        for owner in {o for o in owners if o}:
            self._restrictions.delete_many({"_id": under(owner)})
            self._restrictions.delete_one({"_id": owner})

    # -- send log -------------------------------------------------------------------------
    def log_send(self, subscriber: str, campaign_id: str, outcome: str, at: datetime, owner: str) -> bool:
        """Record a message; False when one is recorded already (it must not go again)."""
        return _insert_once(
            self._send_log,
            {
                "_id": key(subscriber, campaign_id),
                "campaign_id": campaign_id,
                "subscriber_id": subscriber,
                "outcome": outcome,
                "at": at,
                "owner": owner,
            },
        )

    def unlog_send(self, subscriber: str, campaign_id: str) -> None:
        """Forget a record whose message did not go, so it can go again."""
        self._send_log.delete_one({"_id": key(subscriber, campaign_id)})

    def logged(self, campaign_id: str, subscribers: Sequence[str]) -> dict[str, str]:
        """Subscriber → outcome for those of ``subscribers`` the campaign has a record of."""
        found: dict[str, str] = {}
        for start in range(0, len(subscribers), 200):
            ids = [key(s, campaign_id) for s in subscribers[start : start + 200]]
            for doc in self._send_log.find(
                {"_id": {"$in": ids}}, projection={"subscriber_id": 1, "outcome": 1}
            ):
                found[doc["subscriber_id"]] = doc["outcome"]
        return found

    def sends_of(self, subscriber: str) -> list[Document]:
        return list(scan(self._send_log, under(subscriber)))

    # -- confirmation mails ---------------------------------------------------------------
    def claim_mail(self, subscriber: str, event_id: str) -> bool:
        """Whether this event's confirmation mail is ours to send (once per event)."""
        return _insert_once(self._mails, {"_id": key(subscriber, event_id)})

    def release_mail(self, subscriber: str, event_id: str) -> None:
        self._mails.delete_one({"_id": key(subscriber, event_id)})

    # -- the sweep's queues ---------------------------------------------------------------
    def schedule(self, queue: str, at: datetime, subscriber: str) -> str:
        return self._queues.schedule(queue, at, subscriber)

    def due(self, queue: str, now: datetime, limit: int = 200) -> list[Document]:
        return self._queues.due(queue, now, limit)

    def unschedule(self, entry_id: str) -> None:
        self._queues.remove(entry_id)

    def take(self, entry_id: str) -> bool:
        """Take an entry out of its queue: True for exactly one of several sweeps."""
        return self._queues.remove(entry_id)
