"""What the newsletter's domain hands out: plain views of its documents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lethe_common.mongo import Document


@dataclass(frozen=True)
class SubscriptionView:
    status: str  # none, pending, active or unsubscribed
    consent_version: str = ""
    subscribed_at: datetime | None = None
    confirmed_at: datetime | None = None
    restricted: bool = False

    @classmethod
    def of(cls, doc: Document | None) -> SubscriptionView:
        if doc is None:
            return cls("none")
        status = "unsubscribed" if doc["status"] == "unsubscribing" else doc["status"]
        return cls(status, doc.get("consent_version", ""), doc.get("requested_at"),
                   doc.get("confirmed_at"), bool(doc.get("restricted")))


@dataclass(frozen=True)
class Progress:
    recipients: int = 0
    sent: int = 0
    failed: int = 0
    dropped: int = 0

    def doc(self) -> Document:
        return {"recipients": self.recipients, "sent": self.sent, "failed": self.failed,
                "dropped": self.dropped}

    @classmethod
    def of(cls, doc: Document | None) -> Progress:
        doc = doc or {}
        return cls(int(doc.get("recipients", 0)), int(doc.get("sent", 0)),
                   int(doc.get("failed", 0)), int(doc.get("dropped", 0)))


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
    def of(cls, doc: Document) -> CampaignView:
        return cls(doc["_id"], doc["subject"], doc["text_body"], doc.get("html_body", ""),
                   bool(doc.get("greeting")), doc["status"], doc["created_at"],
                   doc.get("started_at"), doc.get("finished_at"), Progress.of(doc.get("progress")))
