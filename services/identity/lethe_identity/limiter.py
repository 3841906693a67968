"""Counting attempts in a sliding window, shared by every replica through the store.

Each attempt is one record (a keyed hash, never an address, and its time);
"how many in the last window" is a count over the store, so every gateway
and identity replica sees the same figure. Two replicas counting at the same
instant may let one attempt more through: a limit, not an arbiter.
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

    def retry_after(self, key: str, now: datetime) -> int | None:
        """Seconds until the next attempt is allowed, or None when it is allowed now."""
        times = self._repo.attempt_times(f"{self._name}:{key}", now - self._window)
        if len(times) < self.limit:
            return None
        # Allowed again once enough of the oldest attempts have left the window.
        frees_at = times[len(times) - self.limit] + self._window
        return max(1, math.ceil((frees_at - now).total_seconds()))

    def record(self, key: str, now: datetime) -> None:
        self._repo.add_attempt(f"{self._name}:{key}", now, now + self._window)
