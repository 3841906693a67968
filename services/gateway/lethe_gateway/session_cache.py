"""Who a session belongs to, remembered by this gateway process for a moment.

Every logged-in request needs the identity service's ``Authenticate`` (the session and the
account: a gRPC call and three store reads), which costs several times what the gateway's
own work for a ``GET`` does. A person's page load makes several requests within a second,
so for safe methods (GET, HEAD, OPTIONS) the answer is reused for
``LETHE_GATEWAY_SESSION_CACHE_SECONDS`` (2 s; 0 turns it off). Every state-changing request
asks identity again and forgets what was remembered, so a write is never let through on a
remembered answer, and a log-out or profile change made through this process shows at once.

What stays: for at most that long, a ``GET`` through *another* gateway process may still
see a session that was ended, or an account that was changed or erased, a moment ago. The
key is a digest of the token, and the number of entries is bounded.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict

from lethe.identity.v1 import identity_pb2 as pb

MISS = object()


class SessionCache:
    def __init__(self, ttl_seconds: float, max_entries: int = 50_000) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[float, pb.Account | None]] = OrderedDict()

    @staticmethod
    def key(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def get(self, token: str) -> pb.Account | object | None:
        """The remembered account (None: not logged in), or MISS."""
        if self._ttl <= 0:
            return MISS
        entry = self._entries.get(self.key(token))
        if entry is None or entry[0] < time.monotonic():
            return MISS
        return entry[1]

    def put(self, token: str, account: pb.Account | None) -> None:
        if self._ttl <= 0:
            return
        key = self.key(token)
        self._entries[key] = (time.monotonic() + self._ttl, account)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def forget(self, token: str) -> None:
        self._entries.pop(self.key(token), None)
