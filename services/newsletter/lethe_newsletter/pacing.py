"""Pacing campaign messages and cutting the audience into batches (pure)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence


class Pacer:
    """At most ``rate`` messages per second, without bursts (0: no limit)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._clock = clock
        self._next = 0.0

    def wait(self, stop: threading.Event) -> None:
        if not self._interval:
            return
        now = self._clock()
        self._next = max(self._next, now)
        if self._next > now:
            stop.wait(self._next - now)
        self._next += self._interval


def chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
