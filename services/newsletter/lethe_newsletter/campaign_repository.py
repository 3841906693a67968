"""The only code that touches the newsletter's campaign collections.

- ``campaign_steps``: each campaign's step log ``<campaign id>/<number>``
  (:mod:`lethe_newsletter.campaign_state`), written by staff and by the senders.
- ``campaign_index``: ``created/<time>/<campaign id>`` (the staff list, newest first) and
  ``sending/<started>/<campaign id>`` (what the senders look for) (TimeQueue).
- ``campaign_leases``: ``<campaign id>/<lease period>``: one insert per period and holder,
  so exactly one worker holds a campaign in any period; never updated.
- ``campaign_progress``: ``<campaign id>/<run start>/<worker>``: one document per sender
  run, written by that run alone; the latest run's is the campaign's progress.
- ``campaign_test_sends``: ``<hour>/<campaign id>/<slot>``: the test sends of a campaign in
  one hour (hours since the epoch, 12 digits), one unique insert per slot, so no more than
  the limit go however many ask at once; past hours are one ``_id`` range for the sweep.
"""

from __future__ import annotations

from datetime import datetime

from pymongo.errors import DuplicateKeyError

from lethe_common.mongo import Db, Document
from lethe_common.store.index import TimeQueue
from lethe_common.store.keys import key, timekey, under
from lethe_common.store.paging import Page, page, scan
from lethe_common.store.steps import Decide, Step, StepLog

CAMPAIGN_STEPS = "campaign_steps"
CAMPAIGN_INDEX = "campaign_index"
CAMPAIGN_LEASES = "campaign_leases"
CAMPAIGN_PROGRESS = "campaign_progress"
TEST_SENDS = "campaign_test_sends"
CREATED = "created"
SENDING = "sending"


def _period(number: int) -> str:
    return f"{number:012d}"


class CampaignRepository:
    def __init__(self, db: Db) -> None:
        self._log = StepLog(db[CAMPAIGN_STEPS])
        self._index = TimeQueue(db[CAMPAIGN_INDEX])
        self._leases = db[CAMPAIGN_LEASES]
        self._progress = db[CAMPAIGN_PROGRESS]
        self._test_sends = db[TEST_SENDS]

    # -- the campaign ---------------------------------------------------------------------
    def create(self, campaign_id: str, created_at: datetime, fields: Document) -> None:
        """The draft, listed first (an entry without its campaign is skipped by readers)."""
        self._index.schedule(CREATED, created_at, campaign_id)
        self._log.append(campaign_id, 0, Step(fields))

    def steps(self, campaign_id: str) -> list[Document]:
        return self._log.steps(campaign_id)

    def append_after(self, campaign_id: str, decide: Decide) -> Document | None:
        return self._log.append_after(campaign_id, decide)

    def page(self, after: str, limit: int) -> Page:
        """A page of the staff list, newest first."""
        return self._index.page(CREATED, after=after, limit=limit, descending=True)

    # -- the senders' queue ---------------------------------------------------------------
    def list_sending(self, started_at: datetime, campaign_id: str) -> str:
        return self._index.schedule(SENDING, started_at, campaign_id)

    def sending(self, now: datetime) -> list[Document]:
        return self._index.due(SENDING, now, limit=50)

    def unlist_sending(self, started_at: datetime, campaign_id: str) -> None:
        self._index.remove_item(SENDING, started_at, campaign_id)

    def unlist(self, entry_id: str) -> None:
        self._index.remove(entry_id)

    # -- leases ---------------------------------------------------------------------------
    def claim_lease(self, campaign_id: str, period: int, owner: str, now: datetime) -> bool:
        """Take ``period`` of the campaign; False when another worker (or we) took it."""
        try:
            self._leases.insert_one({"_id": key(campaign_id, _period(period)), "owner": owner, "at": now})
        except DuplicateKeyError:
            return False
        return True

    def lease_owner(self, campaign_id: str, period: int) -> str | None:
        doc = self._leases.find_one({"_id": key(campaign_id, _period(period))})
        return None if doc is None else str(doc["owner"])

    def release_lease(self, campaign_id: str, period: int, owner: str) -> None:
        """Give a period back (a clean stop); a claim is never changed, only deleted."""
        self._leases.delete_one({"_id": key(campaign_id, _period(period)), "owner": owner})

    def forget_leases(self, campaign_id: str) -> None:
        self._leases.delete_many({"_id": under(campaign_id)})

    # -- progress -------------------------------------------------------------------------
    def start_run(self, campaign_id: str, started: datetime, owner: str, progress: Document) -> str:
        run_id = key(campaign_id, timekey(started), owner)
        self._progress.insert_one({"_id": run_id, **progress, "at": started})
        return run_id

    def save_progress(self, run_id: str, progress: Document, at: datetime) -> None:
        """The run's own document: it has this one writer."""
        self._progress.update_one({"_id": run_id}, {"$set": {**progress, "at": at}})

    def latest_progress(self, campaign_id: str) -> Document | None:
        found = page(self._progress, under(campaign_id), limit=1, descending=True).items
        return found[0] if found else None

    # -- test sends -------------------------------------------------------------------------
    def take_test_slot(
        self, campaign_id: str, hour: int, limit: int, actor: str, now: datetime
    ) -> str | None:
        """One of the hour's ``limit`` test-send slots of the campaign (its key), or None
        when all are taken: each slot is a unique insert, so two callers never share one."""
        taken = {str(doc["_id"]) for doc in scan(self._test_sends, under(_period(hour), campaign_id))}
        for slot in range(limit):
            slot_id = key(_period(hour), campaign_id, f"{slot:04d}")
            if slot_id in taken:
                continue
            try:
                self._test_sends.insert_one({"_id": slot_id, "by": actor, "at": now})
            except DuplicateKeyError:
                continue  # another caller took it just now
            return slot_id
        return None

    def give_back_test_slot(self, slot_id: str) -> None:
        """The test mail did not go: its slot is free again."""
        self._test_sends.delete_one({"_id": slot_id})

    def forget_test_slots(self, before_hour: int) -> int:
        """Delete the slots of hours before ``before_hour``: one ``_id`` range."""
        return int(self._test_sends.delete_many({"_id": {"$lt": _period(before_hour)}}).deleted_count)
