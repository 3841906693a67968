"""Customer organisations, their e-mail domains, and the staff list of portal requests.

====================== ============================== =====================================
collection             ``_id``                        what
====================== ============================== =====================================
organisations          ``<org>/<v>``                  name and domains, versions: two staff
                                                      editing one organisation at once are
                                                      a compare-and-set, neither is lost
organisation_domains   ``<domain>``                   a unique insert: a domain belongs to
                                                      at most one organisation
staff_queues           ``portal-<status>/<time>/<acc>.<n>.<w>``  the staff list per status, by
                                                      request time: the entry of step ``n``
                                                      as writer ``w`` wrote it
====================== ============================== =====================================

Organisation ids sort by creation time, so the staff list pages the versions newest
first and shows each organisation's head (its first version met).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pymongo.errors import DuplicateKeyError

from lethe_common.mongo import Db, Document
from lethe_common.store.index import TimeQueue
from lethe_common.store.keys import seqkey
from lethe_common.store.paging import Page, filtered_page, page
from lethe_common.store.versions import Decide, Versions

ORGANISATIONS = "organisations"
ORG_DOMAINS = "organisation_domains"


def organisation_of(version: Document) -> str:
    return str(version["_id"]).split("/", 1)[0]


def portal_queue(status: str) -> str:
    return f"portal-{status}"


def portal_item(account_id: str, step: int, writer: str) -> str:
    """The list entry of one writer's step (``w``): two staff deciding at once each get
    their own entry, and the reader keeps the one whose writer's step holds."""
    return f"{account_id}.{seqkey(step)}.{writer}"


def parse_portal_item(item: str) -> tuple[str, int, str]:
    account_id, step, writer = item.split(".")
    return account_id, int(step), writer


class OrganisationStore:
    def __init__(self, db: Db, queues: TimeQueue) -> None:
        self._versions = Versions(db[ORGANISATIONS])
        self._collection = db[ORGANISATIONS]
        self._domains = db[ORG_DOMAINS]
        self._queues = queues

    # -- organisations ----------------------------------------------------------------------
    def head(self, organisation_id: str) -> Document | None:
        return self._versions.head(organisation_id)

    def write(self, organisation_id: str, decide: Decide) -> tuple[Document | None, bool]:
        return self._versions.write(organisation_id, decide)

    def page(self, after: str, limit: int) -> Page:
        """Organisations newest first: the head of each (the first of its versions met in
        descending order), ``limit`` of them; ``after`` is the last head shown."""
        previous = {"org": organisation_of({"_id": after}) if after else ""}

        def keep(doc: Document) -> bool:
            org = organisation_of(doc)
            first = org != previous["org"]
            previous["org"] = org
            return first

        return filtered_page(
            lambda cursor, size: page(
                self._collection, {"$gte": ""}, after=cursor, limit=size, descending=True
            ),
            keep,
            after=after,
            limit=limit,
        )

    # -- domains -------------------------------------------------------------------------------
    def claim_domain(self, domain: str, organisation_id: str) -> bool:
        try:
            self._domains.insert_one({"_id": domain, "organisation_id": organisation_id})
        except DuplicateKeyError:
            return False
        return True

    def release_domains(self, domains: Iterable[str], organisation_id: str) -> None:
        """Free domains the organisation held. One release per domain and change: only the
        writer whose version dropped a domain releases it."""
        for domain in domains:
            self._domains.delete_one({"_id": domain, "organisation_id": organisation_id})

    def domain_holder(self, domain: str) -> str:
        claim = self._domains.find_one({"_id": domain})
        return str(claim["organisation_id"]) if claim else ""

    # -- staff list of portal requests ------------------------------------------------------------
    def enqueue(
        self, status: str, requested_at: datetime, account_id: str, step: int, writer: str, now: datetime
    ) -> str:
        """List a step before it is appended (``queued_at``: when, for orphan clean-up)."""
        return self._queues.schedule(
            portal_queue(status), requested_at, portal_item(account_id, step, writer), queued_at=now
        )

    def queue_page(self, status: str, after: str, limit: int) -> Page:
        return self._queues.page(portal_queue(status), after=after, limit=limit)

    def dequeue(self, entry_id: str) -> bool:
        return self._queues.remove(entry_id)
