"""Counting attempts in a sliding window, shared by every replica through the store.

Each attempt is one record (a keyed hash, never an address, and its time);
"how many in the last window" is a count over the store, so every gateway
and identity replica sees the same figure. Two replicas counting at the same
instant both count both attempts: an attempt is recorded *before* the work it
guards (:meth:`begin`), so a burst of parallel requests cannot all pass the
check while none has been counted yet. An attempt that turns out not to count
(a successful log-in) is withdrawn with :meth:`forget`.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from lethe_identity.repository import IdentityRepository


class AttemptLimiter:
    def __init__(self, repo: IdentityRepository, name: str, limit: int, window_seconds: int) -> None:
        self._repo = repo
        self._name = name
        self.limit = limit
        self._window = timedelta(seconds=window_seconds)

    def begin(self, key: str, now: datetime) -> tuple[str, int | None]:
        """Record an attempt, then check it: (its id, None) when within the limit,
        else (id, seconds to wait) with the attempt already withdrawn."""
        full_key = f"{self._name}:{key}"
        attempt_id = self._repo.add_attempt(full_key, now, now + self._window)
        times = self._repo.attempt_times(full_key, now - self._window)
        if len(times) <= self.limit:
            return attempt_id, None
        self.forget(attempt_id)
        frees_at = times[len(times) - self.limit] + self._window
        return attempt_id, max(1, math.ceil((frees_at - now).total_seconds()))

    def forget(self, attempt_id: str) -> None:
        self._repo.delete_attempt(attempt_id)
