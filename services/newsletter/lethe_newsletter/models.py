"""What the newsletter's domain hands out: plain views of its state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lethe_common.mongo import Document
from lethe_newsletter.campaign_state import CampaignState
from lethe_newsletter.lifecycle import ACTIVE, LEAVING, Life


def to_millis(moment: datetime) -> datetime:
    """``moment`` as the store keeps it (milliseconds), so keys made of it can be made again
    from what is read back."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class SubscriptionView:
    status: str  # none, pending, active or unsubscribed
    consent_version: str = ""
    subscribed_at: datetime | None = None
    confirmed_at: datetime | None = None
    restricted: bool = False

    @classmethod
    def of(cls, life: Life | None, restricted: bool = False) -> SubscriptionView:
        if life is None or not life.live:
            return cls("none")
        status = {ACTIVE: "active", LEAVING: "unsubscribed"}.get(life.status, "pending")
        return cls(status, life.consent_version, life.requested_at, life.confirmed_at, restricted)


@dataclass(frozen=True)
class Progress:
    """A campaign's counts: its audience (``recipients``), the messages sent, refused for
    good (``failed``), passed by (``dropped``: left, restricted or suppressed since the send
    started) and still to go (``remaining``, those waiting for another pass included)."""

    recipients: int = 0
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    remaining: int = 0

    def doc(self) -> Document:
        return {
            "recipients": self.recipients,
            "sent": self.sent,
            "failed": self.failed,
            "dropped": self.dropped,
            "remaining": self.remaining,
        }

    @classmethod
    def of(cls, doc: Document | None) -> Progress:
        doc = doc or {}
        recipients, sent, failed, dropped = (
            int(doc.get(name, 0)) for name in ("recipients", "sent", "failed", "dropped")
        )
        # Progress written before ``remaining`` was kept: what is not accounted for yet.
        remaining = doc.get("remaining", max(recipients - sent - failed - dropped, 0))
        return cls(recipients, sent, failed, dropped, int(remaining))


@dataclass(frozen=True)
class CampaignView:
    id: str
    subject: str
    text_body: str
    html_body: str
    greeting: bool
    status: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: Progress

    @classmethod
    def of(cls, state: CampaignState, progress: Document | None = None) -> CampaignView:
        """The campaign; its progress is the final one once sent, else the latest run's."""
        final = state.final_progress if state.final_progress is not None else progress
        return cls(
            state.id,
            state.subject,
            state.text_body,
            state.html_body,
            state.greeting,
            state.status,
            state.created_at,
            state.started_at,
            state.finished_at,
            Progress.of(final),
        )
