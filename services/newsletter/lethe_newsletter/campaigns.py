"""Staff's campaigns: written as drafts, sent once, never edited after sending starts."""

from __future__ import annotations

from datetime import UTC, datetime

from lethe_common import tokens
from lethe_common.errors import FailedPrecondition, NotFound
from lethe_common.validation import object_id, text
from lethe_newsletter.models import CampaignView, Progress
from lethe_newsletter.repository import NewsletterRepository

MAX_SUBJECT = 200
MAX_BODY = 200_000


class Campaigns:
    def __init__(self, repo: NewsletterRepository) -> None:
        self._repo = repo

    def create(self, actor: str, subject: str, text_body: str, html_body: str, greeting: bool,
               now: datetime | None = None) -> CampaignView:
        now = now or datetime.now(UTC)
        doc = {"_id": tokens.new_id("cmp"), "subject": text(subject, "subject", max_length=MAX_SUBJECT),
               "text_body": text(text_body, "text_body", max_length=MAX_BODY, multiline=True),
               "html_body": text(html_body, "html_body", max_length=MAX_BODY, required=False,
                                 multiline=True),
               "greeting": bool(greeting), "status": "draft", "created_at": now,
               "created_by": actor, "progress": Progress().doc()}
        self._repo.insert_campaign(doc)
        return CampaignView.of(doc)

    def list(self) -> list[CampaignView]:
        return [CampaignView.of(doc) for doc in self._repo.campaigns()]

    def get(self, campaign_id: str) -> CampaignView:
        doc = self._repo.campaign(object_id(campaign_id, "campaign_id"))
        if doc is None:
            raise NotFound("there is no such campaign")
        return CampaignView.of(doc)

    def send(self, campaign_id: str, actor: str, now: datetime | None = None) -> CampaignView:
        """Start sending: the audience is everyone active at this moment."""
        now = now or datetime.now(UTC)
        self.get(campaign_id)
        started = self._repo.update_campaign(campaign_id, {"status": "draft"}, {
            "status": "sending", "started_at": now, "started_by": actor,
            "lease_until": datetime.fromtimestamp(0, UTC)})
        if started is None:
            raise FailedPrecondition("only a draft can be sent; this campaign has been sent "
                                     "or cancelled already")
        return CampaignView.of(started)

    def cancel(self, campaign_id: str, actor: str, now: datetime | None = None) -> CampaignView:
        """Stop a draft or a campaign being sent; what went out stays in the send log."""
        now = now or datetime.now(UTC)
        self.get(campaign_id)
        cancelled = self._repo.update_campaign(
            campaign_id, {"status": {"$in": ["draft", "sending"]}},
            {"status": "cancelled", "finished_at": now, "cancelled_by": actor})
        if cancelled is None:
            raise FailedPrecondition("this campaign has finished already")
        return CampaignView.of(cancelled)
