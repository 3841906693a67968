"""Who a campaign goes to, read the way the store serves it: by ``_id`` pages and ranges.

The audience is every subscriber confirmed when staff pressed send. Before each batch
the sender reads those subscribers again (one ``_id`` range), their suppressions (one
``$in`` of ``_id``s) and their restrictions (markers by ``$in``, then each marked
owner's latest entry), and drops whoever may not get mail now.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from lethe_newsletter.lifecycle import ACTIVE, Life, is_restricted
from lethe_newsletter.repository import NewsletterRepository


def in_audience(life: Life, cutoff: datetime) -> bool:
    return life.status == ACTIVE and life.confirmed_at is not None and life.confirmed_at <= cutoff


class Audience:
    def __init__(self, repo: NewsletterRepository) -> None:
        self._repo = repo

    def members(self, cutoff: datetime) -> list[str]:
        """Ids of the subscribers a campaign started at ``cutoff`` is for, in id order."""
        return [life.subscriber_id for life in self._repo.walk() if in_audience(life, cutoff)]

    def sendable(self, batch: Sequence[str], cutoff: datetime) -> dict[str, Life]:
        """The subscribers of ``batch`` (ids in order) who may receive mail right now."""
        if not batch:
            return {}
        lives = self._repo.lives_between(batch[0], batch[-1])
        candidates = [lives[s] for s in batch if s in lives and in_audience(lives[s], cutoff)]
        suppressed = self._repo.suppressions([life.subject_key for life in candidates])
        restrictions = self._repo.latest_restrictions(owner for life in candidates for owner in life.owners())
        sendable = {}
        for life in candidates:
            since = suppressed.get(life.subject_key)
            if since is not None and life.confirmed_at is not None and since >= life.confirmed_at:
                continue  # erased after confirming (an older suppression was lifted by it)
            if is_restricted(life, restrictions):
                continue
            sendable[life.subscriber_id] = life
        return sendable

    def still_sendable(self, life: Life) -> bool:
        """After recording a message: whether the subscriber took no step since it was read
        (or only steps that leave it active)."""
        if not self._repo.changed_since(life.subscriber_id, life.last_n):
            return True
        now = self._repo.life(life.subscriber_id)
        return now.status == ACTIVE and now.confirmed_at == life.confirmed_at
