"""The newsletter worker process: event consumers, outbox relay, sweeps, the campaign sender.

It mails double opt-in links, ends subscriptions whose consent was withdrawn
elsewhere, does the newsletter's part of erasures and restrictions, sends
campaigns, retries withdrawals the consent service could not take at once,
forgets requests that were never confirmed, and deletes staff audit entries older
than ``LETHE_AUDIT_RETENTION_DAYS``, the test-send slots of past hours and the send
limits' counts of confirmation mails whose window ended.
"""

from __future__ import annotations

import functools
import re
import smtplib
from datetime import UTC, datetime, timedelta

from lethe_common import tokens
from lethe_common.events.consumer import Subscription
from lethe_common.events.envelope import Envelope, EnvelopeError
from lethe_common.mail import MailSession, send_mail
from lethe_common.privacy import privacy_subscriptions
from lethe_common.runtime import Loop, Runtime, Sweep
from lethe_common.service import worker_main
from lethe_common.subject import Subject
from lethe_newsletter.config import NewsletterConfig, load_config
from lethe_newsletter.repository import INDEXES
from lethe_newsletter.sender import CampaignSender, SenderSettings
from lethe_newsletter.wiring import NewsletterParts, build_parts

SUBSCRIBER_ID = re.compile(r"sub_[0-9a-f]{32}")


class MailNotSent(RuntimeError):
    """The relay did not take a mail; the consumer retries the event with back-off."""


def _checked_person(event: Envelope) -> Subject:
    return Subject.checked(
        account_id=event.payload.get("account_id"), subject_key=event.subject_key, error=EnvelopeError
    )


def subscriptions(parts: NewsletterParts, config: NewsletterConfig) -> list[Subscription]:
    common = config.common
    ttl = timedelta(hours=config.confirmation_ttl_hours)

    def confirmation_requested(event: Envelope) -> None:
        subscriber_id = event.payload.get("subscriber_id")
        if not isinstance(subscriber_id, str) or not SUBSCRIBER_ID.fullmatch(subscriber_id):
            raise EnvelopeError("subscriber_id is not a subscriber id")
        found = parts.subscriptions.confirmation_to_mail(subscriber_id, event.id)
        if found is None:
            return  # confirmed, gone, expired, or another worker mails it
        pending, token = found
        mail = parts.messages.confirmation(pending.email, token, ttl)
        try:
            send_mail(mail, host=common.smtp_host, port=common.smtp_port, sender=common.mail_from)
        except (smtplib.SMTPException, OSError):
            parts.subscriptions.mail_failed(subscriber_id, event.id)
            raise MailNotSent("the confirmation mail was not taken by the relay") from None

    def consent_withdrawn(event: Envelope) -> None:
        if event.payload.get("purpose") == "newsletter":
            parts.leaving.consent_withdrawn(_checked_person(event), event.occurred_at)

    return [
        Subscription("newsletter", "newsletter.confirmation_requested", confirmation_requested),
        Subscription("consent", "consent.withdrawn", consent_withdrawn),
        *privacy_subscriptions(parts.erasure.erase, parts.erasure.restrict),
    ]


def sweeps(parts: NewsletterParts, config: NewsletterConfig) -> list[Sweep]:
    def tidy() -> dict[str, int]:
        return {
            "withdrawals_recorded": parts.leaving.retry_withdrawals(),
            "unconfirmed_forgotten": parts.leaving.forget_unconfirmed(),
            "test_send_slots_forgotten": parts.trials.forget_old(),
            "send_limits_forgotten": parts.subscriptions.mail_limits.sweep(),
            "staff_audit": parts.audit.sweep(datetime.now(UTC), config.common.audit_retention_days),
        }

    return [Sweep("newsletter-tidy", config.sweep_interval_seconds, tidy)]


def loops(parts: NewsletterParts, config: NewsletterConfig) -> list[Loop]:
    common = config.common
    sender = CampaignSender(
        parts.repo,
        parts.campaign_repo,
        parts.messages,
        lambda: MailSession(common.smtp_host, common.smtp_port, common.mail_from),
        SenderSettings(
            rate_per_second=config.send_rate_per_second,
            batch_size=config.batch_size,
            lease=timedelta(seconds=config.send_lease_seconds),
            max_passes=config.max_send_passes,
        ),
        owner=tokens.new_id("wrk"),
    )
    return [Loop("campaign-sender", sender.run)]


def main() -> None:
    config = load_config()

    @functools.cache
    def parts_of(runtime: Runtime) -> NewsletterParts:
        return build_parts(runtime, config)

    worker_main(
        config.common,
        subscriptions=lambda runtime: subscriptions(parts_of(runtime), config),
        sweeps=lambda runtime: sweeps(parts_of(runtime), config),
        indexes=INDEXES,
        loops=lambda runtime: loops(parts_of(runtime), config),
    )


if __name__ == "__main__":
    main()
