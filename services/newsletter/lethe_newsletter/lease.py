"""Which worker sends a campaign: the holder of its current lease period.

Time is cut into periods of the lease's length. A worker holds a period by inserting
the document ``<campaign>/<period>``: the store's unique ``_id`` lets exactly one worker
hold each period, and nothing is ever updated, so no renewal can overwrite another
worker's claim (or a cancel). The holder claims the next period a third into the
current one; a worker looking for work only ever claims the current period, so it gets
a campaign only when its holder stopped claiming (it died) or gave its periods back (a
clean stop). The holder sends only while at least ``margin`` of its last period is left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from lethe_newsletter.campaign_repository import CampaignRepository


class CampaignLease:
    def __init__(
        self,
        repo: CampaignRepository,
        campaign_id: str,
        owner: str,
        period_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._repo = repo
        self.campaign_id = campaign_id
        self.owner = owner
        self._period = period_seconds
        self._margin = min(period_seconds / 3, 5.0)
        self._clock = clock
        self._held_until = 0.0  # the end of the last period we hold (epoch seconds)

    def _number(self, moment: float) -> int:
        return int(moment // self._period)

    def _take(self, number: int, moment: float) -> bool:
        now = datetime.fromtimestamp(moment, UTC)
        return (
            self._repo.claim_lease(self.campaign_id, number, self.owner, now)
            or self._repo.lease_owner(self.campaign_id, number) == self.owner
        )

    def acquire(self) -> bool:
        """Take the current period, if nobody holds it."""
        moment = self._clock()
        number = self._number(moment)
        if not self._take(number, moment):
            return False
        self._held_until = (number + 1) * self._period
        self._extend(moment)
        return True

    def keep(self) -> bool:
        """Whether we may send now: we hold the current period with time to spare."""
        moment = self._clock()
        number = self._number(moment)
        if self._held_until <= moment:  # a pause took us past our periods
            if not self._take(number, moment):
                return False
            self._held_until = (number + 1) * self._period
        self._extend(moment)
        return moment + self._margin < self._held_until

    def _extend(self, moment: float) -> None:
        """A third into the current period, claim the next one too."""
        number = self._number(moment)
        if (
            moment >= (number + 1 / 3) * self._period
            and self._held_until <= (number + 1) * self._period
            and self._take(number + 1, moment)
        ):
            self._held_until = (number + 2) * self._period

    def release(self) -> None:
        """Give our periods back, so another worker takes over at once (a clean stop)."""
        number = self._number(self._clock())
        for period in (number, number + 1):
            self._repo.release_lease(self.campaign_id, period, self.owner)
        self._held_until = 0.0
