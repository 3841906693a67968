"""Sending a campaign: in batches, at a configured rate, each message once.

One worker holds a campaign's lease at a time and renews it as it goes; if
it dies, another takes the campaign over when the lease runs out. Each
message is recorded in the send log while its SMTP transaction is still
open, just before the final dot on which the relay takes it (see
:class:`lethe_common.mail.MailSession`):

- dying before the record: no dot was sent, the relay dropped the message,
  and the next holder sends it;
- a record exists already: the message went (or is going) and is not sent again;
- dying after the store committed the record but before the dot left (the
  store's reply, its decoding) loses that one message rather than sending it
  twice: a plain SMTP relay cannot be asked afterwards what it took.

Before each batch the worker reads its subscribers again, so someone who
unsubscribed, was erased, restricted or suppressed meanwhile is dropped.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter, Gauge

from lethe_common.mail import MailSession
from lethe_common.mongo import Document
from lethe_newsletter.messages import Messages
from lethe_newsletter.models import Progress
from lethe_newsletter.repository import NewsletterRepository

log = logging.getLogger(__name__)

MESSAGES = Counter("lethe_newsletter_messages_total",
                   "Campaign messages by outcome (sent, failed, dropped, retried).", ["outcome"])
CAMPAIGN_MESSAGES = Gauge("lethe_newsletter_campaign_messages",
                          "Progress of the campaign this worker sends or sent last: recipients, "
                          "sent, failed, dropped and remaining messages.", ["state"])


@dataclass(frozen=True)
class SenderSettings:
    rate_per_second: float
    batch_size: int
    lease: timedelta
    max_passes: int
    poll_seconds: float = 1.0


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
        yield items[start:start + size]


@dataclass
class Tally:
    recipients: int
    sent: int
    failed: int
    dropped: int

    def progress(self) -> Progress:
        return Progress(self.recipients, self.sent, self.failed, self.dropped)


class CampaignSender:
    def __init__(self, repo: NewsletterRepository, messages: Messages,
                 session: Callable[[], MailSession], settings: SenderSettings, owner: str) -> None:
        self.repo = repo
        self.messages = messages
        self.new_session = session
        self.settings = settings
        self.owner = owner

    def run(self, stop: threading.Event) -> None:
        """The worker's loop: send whatever campaign is waiting, until stopped."""
        while not stop.is_set():
            if not self.send_next(stop):
                stop.wait(self.settings.poll_seconds)

    def send_next(self, stop: threading.Event) -> bool:
        """Take one campaign that is being sent and nobody holds, and send it; False if none."""
        now = datetime.now(UTC)
        campaign = self.repo.lease_campaign(self.owner, now, now + self.settings.lease)
        if campaign is None:
            return False
        log.info("sending campaign", extra={"campaign_id": campaign["_id"]})
        _CampaignRun(self, campaign, stop).send()
        return True


class _CampaignRun:
    """One holder's pass over one campaign."""

    def __init__(self, sender: CampaignSender, campaign: Document, stop: threading.Event) -> None:
        self.sender = sender
        self.repo = sender.repo
        self.settings = sender.settings
        self.campaign = campaign
        self.id = campaign["_id"]
        self.cutoff = campaign["started_at"]
        self.stop = stop
        self.pacer = Pacer(self.settings.rate_per_second)
        self.renewed = time.monotonic()
        self.tally = Tally(0, 0, 0, 0)
        self.remaining = 0

    def _renew(self, force: bool = False) -> bool:
        if not force and time.monotonic() - self.renewed < self.settings.lease.total_seconds() / 3:
            return True
        self.renewed = time.monotonic()
        until = datetime.now(UTC) + self.settings.lease
        return self.repo.renew_lease(self.id, self.sender.owner, until,
                                     self.tally.progress().doc())

    def _show(self) -> None:
        for state, value in (("recipients", self.tally.recipients), ("sent", self.tally.sent),
                             ("failed", self.tally.failed), ("dropped", self.tally.dropped),
                             ("remaining", self.remaining)):
            CAMPAIGN_MESSAGES.labels(state=state).set(value)

    def send(self) -> None:
        logged = self.repo.logged_subscribers(self.id)
        todo = [sid for sid in self.repo.audience(self.cutoff) if sid not in logged]
        before = Progress.of(self.campaign.get("progress"))
        outcomes = list(logged.values())
        self.tally = Tally(max(before.recipients, len(logged) + len(todo)),
                           outcomes.count("sent"), outcomes.count("failed"), before.dropped)
        session = self.sender.new_session()
        try:
            self._passes(todo, session)
        finally:
            session.close()
            if self.stop.is_set():  # a clean stop hands the campaign on at once
                self.repo.release_lease(self.id, self.sender.owner)

    def _passes(self, todo: list[str], session: MailSession) -> None:
        for attempt in range(self.settings.max_passes):
            self.remaining = len(todo)
            retry: list[str] = []
            for batch in chunks(todo, self.settings.batch_size):
                if not self._batch(batch, session, retry):
                    self._show()
                    return  # stopped, cancelled, or the lease went to another worker
            if not retry:
                break
            todo = retry
            MESSAGES.labels(outcome="retried").inc(len(retry))
            if self.stop.wait(min(2.0 ** attempt, 60.0)):
                return
        else:
            for sid in todo:  # still failing after the last pass
                if self.repo.log_send(self.id, sid, "failed", datetime.now(UTC)):
                    self.tally.failed += 1
        self.remaining = 0
        self._show()
        self.repo.update_campaign(self.id, {"status": "sending", "lease_owner": self.sender.owner}, {
            "status": "sent", "finished_at": datetime.now(UTC),
            "progress": self.tally.progress().doc()})
        log.info("campaign sent", extra={"campaign_id": self.id, **self.tally.progress().doc()})

    def _batch(self, batch: Sequence[str], session: MailSession, retry: list[str]) -> bool:
        if not self._renew(force=True):
            return False
        sendable = self.repo.sendable(batch[0], batch[-1], self.cutoff)
        suppressed = self.repo.suppressed([doc["subject_key"] for doc in sendable.values()])
        for sid in batch:
            if self.stop.is_set() or not self._renew():
                return False
            subscriber = sendable.get(sid)
            self.remaining -= 1
            if subscriber is None or subscriber["subject_key"] in suppressed:
                self.tally.dropped += 1
                MESSAGES.labels(outcome="dropped").inc()
                continue
            self.pacer.wait(self.stop)
            outcome = self._send_one(session, subscriber)
            MESSAGES.labels(outcome=outcome).inc()
            if outcome == "retry":
                retry.append(sid)
                self.remaining += 1
            elif outcome == "sent":
                self.tally.sent += 1
            elif outcome == "failed":
                self.tally.failed += 1
        self._show()
        return True

    def _send_one(self, session: MailSession, subscriber: Document) -> str:
        """sent, failed (the relay refused the address for good), retry, or duplicate."""
        sid = subscriber["_id"]
        committed = False

        def commit() -> bool:
            nonlocal committed
            committed = self.repo.log_send(self.id, sid, "sent", datetime.now(UTC))
            return committed

        try:
            went = session.send(self.sender.messages.campaign(self.campaign, subscriber), commit)
        except smtplib.SMTPRecipientsRefused as exc:
            code = next(iter(exc.recipients.values()))[0]
            return self._refused(sid, code)
        except smtplib.SMTPNotSupportedError:
            return self._refused(sid, 550)
        except smtplib.SMTPResponseException as exc:
            if committed and not session.in_doubt:
                self.repo.unlog_send(self.id, sid)  # the relay did not take it
            return self._refused(sid, exc.smtp_code) if exc.smtp_code >= 500 else "retry"
        except (smtplib.SMTPException, OSError):
            if committed and session.in_doubt:
                return "sent"  # the relay may have it: never send it twice
            if committed:
                self.repo.unlog_send(self.id, sid)
            self.stop.wait(1.0)  # the relay is away; do not hammer it
            return "retry"
        return "sent" if went else "duplicate"

    def _refused(self, sid: str, code: int) -> str:
        if code < 500:
            return "retry"
        self.repo.log_send(self.id, sid, "failed", datetime.now(UTC))
        return "failed"
