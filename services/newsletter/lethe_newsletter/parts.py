"""The newsletter domain wired together once, for the API and the worker alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from lethe_common.privacy import ReceiptSender
from lethe_common.runtime import Runtime
from lethe_newsletter.campaigns import Campaigns
from lethe_newsletter.config import SERVICE, NewsletterConfig
from lethe_newsletter.consent_client import ConsentClient
from lethe_newsletter.erasure import NewsletterErasure
from lethe_newsletter.links import Links
from lethe_newsletter.messages import Messages
from lethe_newsletter.repository import NewsletterRepository
from lethe_newsletter.subscriptions import Subscriptions


@dataclass(frozen=True)
class NewsletterParts:
    repo: NewsletterRepository
    messages: Messages
    subscriptions: Subscriptions
    campaigns: Campaigns
    erasure: NewsletterErasure


def build_parts(runtime: Runtime, config: NewsletterConfig) -> NewsletterParts:
    repo = NewsletterRepository(runtime.db, runtime.outbox)
    links = Links(config.link_key, config.public_url)
    consent = ConsentClient(config.consent_grpc_addr, config.rpc_timeout_seconds)
    subscriptions = Subscriptions(
        repo, consent, links, config.common.subject_pepper,
        timedelta(hours=config.confirmation_ttl_hours),
        timedelta(seconds=config.confirmation_resend_seconds))
    return NewsletterParts(repo, Messages(links), subscriptions, Campaigns(repo),
                           NewsletterErasure(repo, ReceiptSender(runtime.db, runtime.outbox,
                                                                 SERVICE)))
