"""Staff's campaigns: written as drafts, sent once, never edited after sending starts.

Sending and cancelling are steps appended after reading the campaign's steps: when two
staff press send at once, or cancel races the sender finishing, exactly one move wins
and the other sees it (a clear FailedPrecondition).

Each staff action that changed a campaign is in the staff audit trail (``staff_audit``,
:mod:`lethe_common.audit`), written after the step: ``campaign.created``, ``campaign.sent``
(sending started) and ``campaign.cancelled``, by the staff member the assertion named, with
the campaign id as the target and no subject key (a campaign concerns no one person).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from lethe_common import tokens
from lethe_common.audit import AuditRecord, AuditTrail
from lethe_common.errors import FailedPrecondition, NotFound
from lethe_common.mongo import Document
from lethe_common.store.paging import decode_cursor, encode_cursor
from lethe_common.store.paging import page_size as checked_page_size
from lethe_common.store.steps import Step
from lethe_common.validation import object_id, text
from lethe_newsletter.campaign_repository import CampaignRepository
from lethe_newsletter.campaign_state import (
    CANCELLED,
    CREATED,
    DRAFT,
    SENDING,
    CampaignState,
    campaign_state,
)
from lethe_newsletter.models import CampaignView, to_millis

MAX_SUBJECT = 200
MAX_BODY = 200_000
CREATED_ACTION = "campaign.created"
SENT_ACTION = "campaign.sent"
CANCELLED_ACTION = "campaign.cancelled"
NOT_A_DRAFT = "only a draft can be sent; this campaign has been sent or cancelled already"
FINISHED = "this campaign has finished already"


@dataclass(frozen=True)
class CampaignPage:
    campaigns: list[CampaignView]
    next_page_token: str


class Campaigns:
    def __init__(self, repo: CampaignRepository, audit: AuditTrail) -> None:
        self._repo = repo
        self._audit = audit

    def create(
        self,
        actor: str,
        subject: str,
        text_body: str,
        html_body: str,
        greeting: bool,
        now: datetime | None = None,
    ) -> CampaignView:
        now = now or datetime.now(UTC)
        campaign_id = tokens.new_ordered_id("cmp")
        fields: Document = {
            "kind": CREATED,
            "subject": text(subject, "subject", max_length=MAX_SUBJECT),
            "text_body": text(text_body, "text_body", max_length=MAX_BODY, multiline=True),
            "html_body": text(html_body, "html_body", max_length=MAX_BODY, required=False, multiline=True),
            "greeting": bool(greeting),
            "created_at": now,
            "created_by": actor,
        }
        self._repo.create(campaign_id, now, fields)
        self._audit.record(AuditRecord(actor, CREATED_ACTION, target=campaign_id), now)
        return self.get(campaign_id)

    def state(self, campaign_id: str) -> CampaignState | None:
        return campaign_state(campaign_id, self._repo.steps(campaign_id))

    def view(self, state: CampaignState) -> CampaignView:
        progress = None if state.final_progress is not None else self._repo.latest_progress(state.id)
        return CampaignView.of(state, progress)

    def list(self, page_size: int = 0, page_token: str = "") -> CampaignPage:
        """Newest first, a page at a time (one ``_id`` range, then each campaign by id)."""
        limit = checked_page_size(max(page_size, 0))
        found = self._repo.page(decode_cursor(page_token), limit)
        views = []
        for entry in found.items:
            state = self.state(str(entry["item"]))
            if state is not None:  # an entry whose campaign was never written
                views.append(self.view(state))
        return CampaignPage(views, encode_cursor(found.next_cursor))

    def get(self, campaign_id: str) -> CampaignView:
        state = self.state(object_id(campaign_id, "campaign_id"))
        if state is None:
            raise NotFound("there is no such campaign")
        return self.view(state)

    def send(self, campaign_id: str, actor: str, now: datetime | None = None) -> CampaignView:
        """Start sending: the audience is everyone active at this moment."""
        now = to_millis(now or datetime.now(UTC))
        self.get(campaign_id)
        # Listed for the senders first; a send that loses takes its entry out again.
        self._repo.list_sending(now, campaign_id)

        def decide(steps: list[Document]) -> Step:
            state = campaign_state(campaign_id, steps)
            if state is None or state.status != DRAFT:
                raise FailedPrecondition(NOT_A_DRAFT)
            return Step({"kind": SENDING, "at": now, "by": actor})

        try:
            self._repo.append_after(campaign_id, decide)
        except FailedPrecondition:
            self._repo.unlist_sending(now, campaign_id)
            raise
        self._audit.record(AuditRecord(actor, SENT_ACTION, target=campaign_id, detail="sending started"), now)
        return self.get(campaign_id)

    def cancel(self, campaign_id: str, actor: str, now: datetime | None = None) -> CampaignView:
        """Stop a draft or a campaign being sent; what went out stays in the send log."""
        now = now or datetime.now(UTC)
        self.get(campaign_id)

        def decide(steps: list[Document]) -> Step:
            state = campaign_state(campaign_id, steps)
            if state is None or state.status not in (DRAFT, SENDING):
                raise FailedPrecondition(FINISHED)
            return Step({"kind": CANCELLED, "at": now, "by": actor})

        self._repo.append_after(campaign_id, decide)
        self._audit.record(AuditRecord(actor, CANCELLED_ACTION, target=campaign_id), now)
        cancelled = self.get(campaign_id)
        if cancelled.started_at is not None:  # the sender sees the cancel before its next batch
            self._repo.unlist_sending(cancelled.started_at, campaign_id)
        return cancelled
