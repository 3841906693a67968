"""The JSON bodies of the newsletter routes."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from lethe.newsletter.v1 import newsletter_pb2 as pb
from lethe_gateway.schemas import Email, Strict

ConsentVersion = Annotated[
    str,
    Field(
        min_length=1,
        max_length=32,
        examples=["2026-01"],
        description="the newsletter consent text version shown",
    ),
]
# A signed link token: ids, numbers and a MAC joined by dots.
LinkToken = Annotated[str, Field(min_length=1, max_length=400, pattern=r"^[A-Za-z0-9_.-]+$")]


def _opt(value: str) -> str | None:
    return value or None


class SubscribeBody(Strict):
    email: Email
    name: Annotated[str, Field(max_length=200, description="only to greet you")] = ""
    consent_version: ConsentVersion


class PortalSubscribeBody(Strict):
    consent_version: ConsentVersion


class LinkTokenBody(Strict):
    token: LinkToken


class SubscriptionOut(BaseModel):
    status: str = Field(description="none, pending, active or unsubscribed")
    consent_version: str | None = None
    subscribed_at: str | None = None
    confirmed_at: str | None = None
    restricted: bool = False

    @classmethod
    def of(cls, msg: pb.Subscription) -> SubscriptionOut:
        return cls(
            status=msg.status,
            consent_version=_opt(msg.consent_version),
            subscribed_at=_opt(msg.subscribed_at),
            confirmed_at=_opt(msg.confirmed_at),
            restricted=msg.restricted,
        )


class CampaignBody(Strict):
    subject: Annotated[str, Field(min_length=1, max_length=200)]
    text_body: Annotated[str, Field(min_length=1, max_length=200_000)]
    html_body: Annotated[str, Field(max_length=200_000)] = ""
    greeting: bool = Field(default=False, description="start with 'Hello <name>,' where known")


class ProgressOut(BaseModel):
    recipients: int
    sent: int
    failed: int
    dropped: int
    remaining: int = Field(description="not yet sent, failed or dropped")


class CampaignOut(BaseModel):
    id: str
    subject: str
    text_body: str
    html_body: str | None
    greeting: bool
    status: str = Field(description="draft, sending, sent or cancelled")
    created_at: str
    started_at: str | None
    finished_at: str | None
    progress: ProgressOut

    @classmethod
    def of(cls, msg: pb.Campaign) -> CampaignOut:
        p = msg.progress
        return cls(
            id=msg.id,
            subject=msg.subject,
            text_body=msg.text_body,
            html_body=_opt(msg.html_body),
            greeting=msg.greeting,
            status=msg.status,
            created_at=msg.created_at,
            started_at=_opt(msg.started_at),
            finished_at=_opt(msg.finished_at),
            progress=ProgressOut(
                recipients=p.recipients,
                sent=p.sent,
                failed=p.failed,
                dropped=p.dropped,
                remaining=p.remaining,
            ),
        )
