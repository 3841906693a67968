"""Sending a campaign: in batches, at a configured rate, each message once.

One worker holds a campaign's lease at a time (:mod:`lethe_newsletter.lease`); if it
dies, another takes the campaign over once its periods ran out, and a clean stop gives
them back at once. Each message is recorded in the send log while its SMTP transaction
is still open, just before the final dot on which the relay takes it (see
:class:`lethe_common.mail.MailSession`):

- dying before the record: no dot was sent, the relay dropped the message,
  and the next holder sends it;
- a record exists already: the message went (or is going) and is not sent again;
- dying after the store committed the record but before the dot left (the
  store's reply, its decoding) loses that one message rather than sending it
  twice: a plain SMTP relay cannot be asked afterwards what it took.

The audience is read by walking the subscribers' ``_id`` pages; before each batch the
worker reads that batch's subscribers again, so someone who unsubscribed, was erased,
restricted or suppressed meanwhile is dropped. Right after recording a message it
checks that the subscriber took no step since that read (one ``_id`` read): one who left
or was erased meanwhile gets nothing, and no send-log entry outlives an erasure.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lethe_common.mail import MailSession
from lethe_newsletter.audience import Audience
from lethe_newsletter.campaign_repository import CampaignRepository
from lethe_newsletter.campaign_run import CampaignRun
from lethe_newsletter.campaign_state import CANCELLED, SENDING, SENT, campaign_state
from lethe_newsletter.lease import CampaignLease
from lethe_newsletter.messages import Messages
from lethe_newsletter.pacing import Pacer, chunks
from lethe_newsletter.repository import NewsletterRepository

log = logging.getLogger(__name__)
__all__ = ["CampaignSender", "Pacer", "SenderSettings", "chunks"]


@dataclass(frozen=True)
class SenderSettings:
    rate_per_second: float
    batch_size: int
    lease: timedelta
    max_passes: int
    poll_seconds: float = 1.0


class CampaignSender:
    def __init__(
        self,
        repo: NewsletterRepository,
        campaigns: CampaignRepository,
        messages: Messages,
        session: Callable[[], MailSession],
        settings: SenderSettings,
        owner: str,
    ) -> None:
        self.repo = repo
        self.campaigns = campaigns
        self.audience = Audience(repo)
        self.messages = messages
        self.new_session = session
        self.settings = settings
        self.owner = owner

    def run(self, stop: threading.Event) -> None:
        """The worker's loop: send whatever campaign is waiting, until stopped."""
        while not stop.is_set():
            if not self.send_next(stop):
                stop.wait(self.settings.poll_seconds)

    def lease(self, campaign_id: str) -> CampaignLease:
        return CampaignLease(self.campaigns, campaign_id, self.owner, self.settings.lease.total_seconds())

    def send_next(self, stop: threading.Event) -> bool:
        """Take one campaign that is being sent and nobody holds, and send it; False if none."""
        for entry in self.campaigns.sending(datetime.now(UTC)):
            campaign_id = str(entry["item"])
            state = campaign_state(campaign_id, self.campaigns.steps(campaign_id))
            if state is not None and state.status in (SENT, CANCELLED):  # finished meanwhile
                self.campaigns.unlist(str(entry["_id"]))
                self.campaigns.forget_leases(campaign_id)
                continue
            if state is None or state.status != SENDING:  # its send is still being written
                continue
            lease = self.lease(campaign_id)
            if lease.acquire():
                log.info("sending campaign", extra={"campaign_id": campaign_id})
                CampaignRun(self, state, lease, stop).send()
                return True
        return False
