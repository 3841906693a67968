"""Finding a person's subscriptions, reading them, and ending one (shared by the
subscription flows, the erasure and the sweeps)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from lethe_common.store.steps import Step
from lethe_common.subject import Subject
from lethe_newsletter.lifecycle import ENDED, Life, is_restricted, step, subscriber_id
from lethe_newsletter.models import SubscriptionView, to_millis
from lethe_newsletter.repository import Appended, NewsletterRepository


class Subscribers:
    def __init__(self, repo: NewsletterRepository) -> None:
        self._repo = repo

    def of(self, subject: Subject) -> list[str]:
        """The subscriber ids a person may have: their address's, and those their account
        subscribed (with an address it may since have changed), and its former addresses'."""
        found = [subscriber_id(key) for key in subject.all_keys()]
        for subscriber in self._repo.subscribers_of_account(subject.account_id):
            if subscriber in found:
                continue
            life = self._repo.life(subscriber)
            if life.live and life.account_id != subject.account_id:
                continue  # a stale entry: that address is subscribed for someone else now
            found.append(subscriber)
        return found

    def life(self, subscriber: str) -> Life:
        return self._repo.life(subscriber)

    def lives_of(self, subject: Subject) -> list[Life]:
        lives = [self._repo.life(s) for s in self.of(subject)]
        return [life for life in lives if life.live]

    def restricted(self, life: Life) -> bool:
        return is_restricted(life, self._repo.latest_restrictions(life.owners()))

    def view(self, life: Life | None) -> SubscriptionView:
        if life is None or not life.live:
            return SubscriptionView("none")
        return SubscriptionView.of(life, self.restricted(life))

    def end(
        self,
        subscriber: str,
        should_end: Callable[[Life], bool],
        reason: str,
        *,
        request_id: str = "",
        keep_key: bool = False,
        now: datetime | None = None,
    ) -> Appended:
        """End the subscription if ``should_end`` says so (decided on a fresh read, so no
        concurrent move is lost), then delete what it held. A life that had ended already
        is cleaned up again while no new one began (a crash may have come between the end
        and the clean-up)."""
        at = to_millis(now or datetime.now(UTC))

        def decide(life: Life) -> Step | None:
            if not life.live or not should_end(life):
                return None
            fields = {"at": at, "reason": reason, "request_id": request_id}
            if keep_key:
                fields["subject_key"] = life.subject_key
            return Step(step(ENDED, **fields))

        appended = self._repo.append(subscriber, decide)
        if appended.step is not None:
            self._repo.purge(subscriber, int(appended.step["n"]), [appended.before.account_id])
        elif appended.before.ended_n >= 0 and appended.before.last_n == appended.before.ended_n:
            # A crash may have cut the first purge short, its account entry still standing.
            self._repo.purge(subscriber, appended.before.ended_n, [appended.before.account_id])
        return appended
