"""One holder's run over one campaign (see :mod:`lethe_newsletter.sender`).

The run counts what it finds in the send log for the whole audience and what it does
itself, so its progress is the campaign's, however many runs came before; it writes
that into a document of its own (one writer), never into the campaign.
"""

from __future__ import annotations

import logging
import smtplib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge

from lethe_common.mail import MailSession
from lethe_common.mongo import Document
from lethe_common.store.steps import Step
from lethe_newsletter.campaign_state import CANCELLED, SENDING, SENT, CampaignState, campaign_state
from lethe_newsletter.lease import CampaignLease
from lethe_newsletter.lifecycle import Life
from lethe_newsletter.models import Progress
from lethe_newsletter.pacing import Pacer, chunks

if TYPE_CHECKING:
    from lethe_newsletter.sender import CampaignSender

log = logging.getLogger(__name__)

MESSAGES = Counter(
    "lethe_newsletter_messages_total",
    "Campaign messages by outcome (sent, failed, dropped, retried).",
    ["outcome"],
)
CAMPAIGN_MESSAGES = Gauge(
    "lethe_newsletter_campaign_messages",
    "Progress of the campaign this worker sends or sent last: recipients, "
    "sent, failed, dropped and remaining messages.",
    ["state"],
)


@dataclass
class Tally:
    recipients: int
    sent: int = 0
    failed: int = 0
    dropped: int = 0

    def progress(self, remaining: int = 0) -> Progress:
        return Progress(self.recipients, self.sent, self.failed, self.dropped, remaining)

    def count(self, outcome: str) -> None:
        if outcome in ("sent", "failed", "dropped"):
            setattr(self, outcome, getattr(self, outcome) + 1)


def now() -> datetime:
    return datetime.now(UTC)


class CampaignRun:
    def __init__(
        self, sender: CampaignSender, state: CampaignState, lease: CampaignLease, stop: threading.Event
    ) -> None:
        self.sender = sender
        self.repo = sender.repo
        self.campaigns = sender.campaigns
        self.audience = sender.audience
        self.settings = sender.settings
        self.state = state
        self.id = state.id
        self.cutoff = state.started_at or now()
        self.lease = lease
        self.stop = stop
        self.pacer = Pacer(self.settings.rate_per_second)
        self.tally = Tally(0)
        self.remaining = 0
        self.run_id = ""

    def send(self) -> None:
        members = self.audience.members(self.cutoff)
        logged = self.repo.logged(self.id, members)
        todo = [sid for sid in members if sid not in logged]
        self.tally = Tally(len(members))
        for outcome in logged.values():
            self.tally.count(outcome)
        self.remaining = len(todo)
        self.run_id = self.campaigns.start_run(
            self.id, now(), self.sender.owner, self.tally.progress(self.remaining).doc()
        )
        session = self.sender.new_session()
        try:
            self._passes(todo, session)
        finally:
            session.close()
            if self.stop.is_set():  # a clean stop hands the campaign on at once
                self.lease.release()

    def _show(self) -> None:
        for state, value in (
            ("recipients", self.tally.recipients),
            ("sent", self.tally.sent),
            ("failed", self.tally.failed),
            ("dropped", self.tally.dropped),
            ("remaining", self.remaining),
        ):
            CAMPAIGN_MESSAGES.labels(state=state).set(value)

    def _save(self) -> None:
        self._show()
        self.campaigns.save_progress(self.run_id, self.tally.progress(self.remaining).doc(), now())

    def _passes(self, todo: list[str], session: MailSession) -> None:
        for attempt in range(self.settings.max_passes):
            self.remaining = len(todo)
            retry: list[str] = []
            for batch in chunks(todo, self.settings.batch_size):
                if not self._batch(batch, session, retry):
                    self._save()
                    return  # stopped, cancelled, or the lease went to another worker
            if not retry:
                break
            todo = retry
            MESSAGES.labels(outcome="retried").inc(len(retry))
            if self.stop.wait(min(2.0**attempt, 60.0)) or not self._still_ours():
                return
        else:
            for sid in todo:  # still failing after the last pass
                if self.repo.log_send(sid, self.id, "failed", now(), self.sender.owner):
                    self.tally.failed += 1
        self.remaining = 0
        self._save()
        self._finish()

    def _finish(self) -> None:
        """Append ``sent`` while the campaign is still ``sending`` (never over a cancel)."""
        final = self.tally.progress().doc()
        at = now()

        def decide(steps: list[Document]) -> Step | None:
            state = campaign_state(self.id, steps)
            if state is None or state.status != SENDING:
                return None
            return Step({"kind": SENT, "at": at, "progress": final, "by": self.sender.owner})

        if self.campaigns.append_after(self.id, decide) is not None:
            log.info("campaign sent", extra={"campaign_id": self.id, **final})
        self.campaigns.unlist_sending(self.cutoff, self.id)
        self.campaigns.forget_leases(self.id)

    def _still_ours(self) -> bool:
        """We hold the lease, and the campaign is still being sent (not cancelled)."""
        if not self.lease.keep():
            return False
        state = campaign_state(self.id, self.campaigns.steps(self.id))
        if state is not None and state.status == CANCELLED:
            self.campaigns.forget_leases(self.id)
            log.info("campaign cancelled while sending", extra={"campaign_id": self.id})
        return state is not None and state.status == SENDING

    def _batch(self, batch: Sequence[str], session: MailSession, retry: list[str]) -> bool:
        if self.stop.is_set() or not self._still_ours():
            return False
        sendable = self.audience.sendable(batch, self.cutoff)
        for sid in batch:
            if self.stop.is_set() or not self.lease.keep():
                return False
            life = sendable.get(sid)
            self.remaining -= 1
            if life is None:
                self.tally.dropped += 1
                MESSAGES.labels(outcome="dropped").inc()
                continue
            self.pacer.wait(self.stop)
            outcome = self._send_one(session, life)
            if outcome == "lost":
                self.remaining += 1
                return False
            MESSAGES.labels(outcome=outcome).inc()
            if outcome == "retry":
                retry.append(sid)
                self.remaining += 1
            elif outcome == "duplicate":  # recorded by a run before us: count what it did
                self.tally.count(self.repo.logged(self.id, [sid]).get(sid, ""))
            else:
                self.tally.count(outcome)
        self._save()
        return True

    def _send_one(self, session: MailSession, life: Life) -> str:
        """sent, failed (refused for good), retry, dropped, duplicate, or lost (the lease)."""
        sid = life.subscriber_id
        committed = False
        verdict = "duplicate"

        def commit() -> bool:
            nonlocal committed, verdict
            if not self.lease.keep():
                verdict = "lost"
                return False
            committed = self.repo.log_send(sid, self.id, "sent", now(), self.sender.owner)
            if committed and not self.audience.still_sendable(life):
                self.repo.unlog_send(sid, self.id)  # left or erased since the batch was read
                committed, verdict = False, "dropped"
            return committed

        mail = self.sender.messages.campaign(
            self.state.message_doc(), {"_id": sid, "email": life.email, "name": life.name}
        )
        try:
            went = session.send(mail, commit)
        except smtplib.SMTPRecipientsRefused as exc:
            code = next(iter(exc.recipients.values()))[0]
            return self._refused(sid, code)
        except smtplib.SMTPNotSupportedError:
            return self._refused(sid, 550)
        except smtplib.SMTPResponseException as exc:
            if committed and not session.in_doubt:
                self.repo.unlog_send(sid, self.id)  # the relay did not take it
            return self._refused(sid, exc.smtp_code) if exc.smtp_code >= 500 else "retry"
        except (smtplib.SMTPException, OSError):
            if committed and session.in_doubt:
                return "sent"  # the relay may have it: never send it twice
            if committed:
                self.repo.unlog_send(sid, self.id)
            self.stop.wait(1.0)  # the relay is away; do not hammer it
            return "retry"
        return "sent" if went else verdict

    def _refused(self, sid: str, code: int) -> str:
        if code < 500:
            return "retry"
        self.repo.log_send(sid, self.id, "failed", now(), self.sender.owner)
        return "failed"
