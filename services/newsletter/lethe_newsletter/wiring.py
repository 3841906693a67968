"""The newsletter domain wired together once, for the API and the worker alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from lethe_common.audit import AUDIT, AuditTrail
from lethe_common.mail import Mail, send_mail
from lethe_common.privacy import ReceiptSender
from lethe_common.runtime import Runtime
from lethe_common.send_limits import MailLimiter
from lethe_newsletter.campaign_repository import CampaignRepository
from lethe_newsletter.campaigns import Campaigns
from lethe_newsletter.config import SERVICE, NewsletterConfig
from lethe_newsletter.consent_client import ConsentClient
from lethe_newsletter.erasure import NewsletterErasure
from lethe_newsletter.leaving import Leaving
from lethe_newsletter.links import Links
from lethe_newsletter.messages import Messages
from lethe_newsletter.people import Subscribers
from lethe_newsletter.repository import NewsletterRepository
from lethe_newsletter.subscriptions import CONFIRMATION_MAIL, Subscriptions, Timing
from lethe_newsletter.trial_sends import TrialSends


@dataclass(frozen=True)
class NewsletterParts:
    repo: NewsletterRepository
    campaign_repo: CampaignRepository
    messages: Messages
    subscriptions: Subscriptions
    leaving: Leaving
    campaigns: Campaigns
    erasure: NewsletterErasure
    audit: AuditTrail  # the staff audit trail (campaigns created, sent, cancelled, tested)
    trials: TrialSends


def build_parts(runtime: Runtime, config: NewsletterConfig) -> NewsletterParts:
    repo = NewsletterRepository(runtime.db, runtime.outbox)
    campaign_repo = CampaignRepository(runtime.db)
    links = Links(config.link_key, config.public_url)
    consent = ConsentClient(config.consent_grpc_addr, config.rpc_timeout_seconds)
    ttl = timedelta(hours=config.confirmation_ttl_hours)
    subscribers = Subscribers(repo)
    leaving = Leaving(subscribers, repo, consent, links, ttl)
    timing = Timing(
        ttl,
        timedelta(seconds=config.confirmation_resend_seconds),
        confirm_wait_seconds=min(config.rpc_timeout_seconds, 5.0),
        claim_timeout=timedelta(seconds=max(30.0, 3 * config.rpc_timeout_seconds)),
    )
    mail_limits = MailLimiter(
        repo.send_limits,
        config.common.subject_pepper,
        CONFIRMATION_MAIL,
        config.confirmation_limits.per_address,
        config.confirmation_limits.per_client,
    )
    subscriptions = Subscriptions(
        repo, subscribers, leaving, consent, links, config.common.subject_pepper, timing, mail_limits
    )
    receipts = ReceiptSender(runtime.db, runtime.outbox, SERVICE)
    audit = AuditTrail(runtime.db[AUDIT])
    messages = Messages(links)
    common = config.common

    def deliver(mail: Mail) -> str:
        return send_mail(mail, host=common.smtp_host, port=common.smtp_port, sender=common.mail_from)

    return NewsletterParts(
        repo,
        campaign_repo,
        messages,
        subscriptions,
        leaving,
        Campaigns(campaign_repo, audit),
        NewsletterErasure(subscribers, repo, receipts),
        audit,
        TrialSends(campaign_repo, messages, deliver, audit),
    )
