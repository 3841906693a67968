"""Recording page views, forgetting visitors, the traffic report and the retention sweep.

Every page view is counted (``page_counts``, naming no one). With a visitor id, which the
gateway sends only once the visitor has given the analytics consent, the view is also
kept as a visit for ``retention`` (ANALYTICS_EVENT_RETENTION_DAYS, 13 months), then the
sweep deletes it. Index entries (the link to a logged-in person, the sweep's entry) are
written before the visit and deleted after it, so nothing kept can be missed by an
erasure or by the sweep.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lethe_analytics.domain import (
    PageView,
    checked_visitor_id,
    checked_window,
    day_of,
    day_start,
    utc_now,
    visitor_hash,
    window,
)
from lethe_analytics.repository import AnalyticsRepository
from lethe_common.mongo import Document

Clock = Callable[[], datetime]
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Forgotten:
    """What forgetting one or more visitors deleted."""

    visits: int = 0
    links: int = 0

    def __add__(self, other: Forgotten) -> Forgotten:
        return Forgotten(self.visits + other.visits, self.links + other.links)


@dataclass(frozen=True)
class TrafficView:
    days: list[tuple[str, int]]  # every day of the window, oldest first
    top_pages: list[tuple[str, int]]  # most views first, then by path
    total: int


class Analytics:
    def __init__(
        self,
        repo: AnalyticsRepository,
        visitor_key: bytes,
        retention: timedelta,
        default_top: int,
        clock: Clock = utc_now,
    ) -> None:
        self._repo = repo
        self._key = visitor_key
        self._retention = retention
        self._default_top = default_top
        self._clock = clock

    def record(self, view: PageView) -> bool:
        """Count the view; keep it as a visit when it names a visitor. True when kept."""
        now = self._clock()
        kept = bool(view.visitor_id)
        if kept:
            visitor = visitor_hash(self._key, view.visitor_id)
            expire_at = now + self._retention
            self._repo.schedule_expiry(visitor, day_start(expire_at))
            if view.subject_key:
                self._repo.link(view.subject_key, visitor)
            self._repo.add_visit(visitor, now, view.path, view.subject_key, expire_at)
        # Counted last: a count that shows the view means its visit is stored too.
        self._repo.count(day_of(now), view.path)
        return kept

    def forget_visitor(self, visitor_id: str) -> Forgotten:
        """Everything kept about the visitor of this cookie id (its visits and links)."""
        return self.forget_hashed(visitor_hash(self._key, checked_visitor_id(visitor_id)))

    def forget_hashed(self, visitor: str) -> Forgotten:
        expiry_days = {day_start(doc["expire_at"]) for doc in self._repo.visits_of(visitor)}
        visits = self._repo.delete_visits(visitor)
        links = self._repo.unlink_visitor(visitor)
        self._repo.remove_expiries(visitor, expiry_days)
        return Forgotten(visits, links)

    def forget_person(self, subject_key: str) -> Forgotten:
        """The person's visits, and every visit of each visitor cookie they were seen with
        (also from before they logged in), then the links themselves."""
        forgotten = Forgotten()
        for visitor in self._repo.visitors_of(subject_key):
            forgotten += self.forget_hashed(visitor)
        return forgotten + Forgotten(links=self._repo.unlink_person(subject_key))

    def held_by(self, subject_key: str) -> tuple[int, int]:
        """How many visits of how many visitor cookies an erasure of the person deletes."""
        visitors = self._repo.visitors_of(subject_key)
        return sum(self._repo.count_visits(v) for v in visitors), len(visitors)

    def visits_of_person(self, subject_key: str) -> list[Document]:
        """The person's visits: those made logged in, and those of their visitor cookies
        made before they logged in; never one another person made logged in."""
        found = [
            doc
            for visitor in self._repo.visitors_of(subject_key)
            for doc in self._repo.visits_of(visitor)
            if doc.get("subject_key", subject_key) == subject_key
        ]
        found.sort(key=lambda doc: doc["at"])
        return found

    def traffic(self, days: int, top: int) -> TrafficView:
        days, top = checked_window(days, top, self._default_top)
        shown = window(self._clock().astimezone(UTC).date(), days)
        per_day = dict.fromkeys(shown, 0)
        per_path: Counter[str] = Counter()
        for doc in self._repo.counts_between(shown[0], shown[-1]):
            views = int(doc.get("count", 0))
            if doc.get("day") in per_day:
                per_day[doc["day"]] += views
                per_path[str(doc.get("path", ""))] += views
        ranked = sorted(per_path.items(), key=lambda item: (-item[1], item[0]))
        return TrafficView(list(per_day.items()), ranked[:top], sum(per_day.values()))

    def sweep(self, now: datetime | None = None) -> dict[str, int]:
        """Delete visits whose retention has passed. An entry of the work list stands for a
        visitor's visits expiring on one day; it goes once none of them is left."""
        now = now or self._clock()
        cutoff = now - self._retention
        deleted = done = 0
        cursor = ""
        while True:
            due = self._repo.due_expiries(now, after=cursor)
            for entry in due.items:
                visitor, day = str(entry["item"]), entry["at"]
                deleted += self._repo.delete_visits_before(visitor, cutoff)
                if not self._repo.has_visit_before(visitor, day + DAY - self._retention):
                    done += int(self._repo.remove_expiry(str(entry["_id"])))
            cursor = due.next_cursor
            if not cursor:
                return {"visits_deleted": deleted, "entries_done": done}
