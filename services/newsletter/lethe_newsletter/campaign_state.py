"""A campaign's state, read from its steps (pure).

A campaign is a step log ``<campaign id>/<number>``: ``created`` (the draft), then
``sending`` (staff pressed send), then ``sent`` (the sender finished) or ``cancelled``
(staff). Staff and every worker's sender append steps after reading the ones before,
so a cancel can never be overwritten by the sender: the sender's lease and progress
live in documents of their own, and its final ``sent`` is only appended while the
campaign is still ``sending``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from lethe_common.mongo import Document

CREATED = "created"
SENDING = "sending"
SENT = "sent"
CANCELLED = "cancelled"
DRAFT = "draft"


@dataclass(frozen=True)
class CampaignState:
    id: str
    subject: str
    text_body: str
    html_body: str
    greeting: bool
    status: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    final_progress: Document | None = None

    def message_doc(self) -> Document:
        """What :class:`lethe_newsletter.messages.Messages` builds a campaign mail from."""
        return {
            "_id": self.id,
            "subject": self.subject,
            "text_body": self.text_body,
            "html_body": self.html_body,
            "greeting": self.greeting,
        }


def campaign_state(campaign_id: str, steps: list[Document]) -> CampaignState | None:
    """The campaign its steps describe; None when it has none (no such campaign)."""
    if not steps or steps[0].get("kind") != CREATED:
        return None
    first = steps[0]
    state = CampaignState(
        campaign_id,
        first["subject"],
        first["text_body"],
        first.get("html_body", ""),
        bool(first.get("greeting")),
        DRAFT,
        first["created_at"],
    )
    for step in steps[1:]:
        kind = step.get("kind")
        if kind == SENDING and state.status == DRAFT:
            state = replace(state, status=SENDING, started_at=step["at"])
        elif kind == CANCELLED and state.status in (DRAFT, SENDING):
            state = replace(state, status=CANCELLED, finished_at=step["at"])
        elif kind == SENT and state.status == SENDING:
            state = replace(state, status=SENT, finished_at=step["at"], final_progress=step.get("progress"))
    return state
