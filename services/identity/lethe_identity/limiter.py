"""Counting attempts in a sliding window, shared by every replica through the store.

Each attempt is one record keyed ``<limiter>/<keyed hash>/<time>/<random>`` (never an
address); "how many in the last window" is one ``_id`` range of that key in the store,
so every gateway and identity replica sees the same figure. Two replicas counting at the same
instant both count both attempts: an attempt is recorded *before* the work it
guards (:meth:`begin`), so a burst of parallel requests cannot all pass the
check while none has been counted yet. An attempt that turns out not to count
(a successful log-in) is withdrawn with :meth:`forget`.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from lethe_identity.repo_access import AttemptStore


class AttemptLimiter:
    def __init__(self, attempts: AttemptStore, name: str, limit: int, window_seconds: int) -> None:
        self._attempts = attempts
        self._name = name
        self.limit = limit
        self._window = timedelta(seconds=window_seconds)

    def begin(self, key: str, now: datetime) -> tuple[str, int | None]:
        """Record an attempt, then check it: (its id, None) when within the limit,
        else (id, seconds to wait) with the attempt already withdrawn."""
        attempt_id = self._attempts.add(self._name, key, now, now + self._window)
        times = self._attempts.times(self._name, key, now - self._window)
        if len(times) <= self.limit:
            return attempt_id, None
        self.forget(attempt_id)
        frees_at = times[len(times) - self.limit] + self._window
        return attempt_id, max(1, math.ceil((frees_at - now).total_seconds()))

    def forget(self, attempt_id: str) -> None:
        self._attempts.delete(attempt_id)
