"""The consent worker process: event consumers, outbox relay, sweeps.

It records the account consent when identity reports a verified account,
does the consent service's own part of an erasure or restriction, files
every service's receipt in the privacy-request ledger, and keeps the
overdue-request gauges that the alert watches.
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime

from prometheus_client import Gauge

from lethe_common.errors import InvalidArgument
from lethe_common.events.catalogue import ALL_SERVICES
from lethe_common.events.consumer import Subscription
from lethe_common.events.envelope import Envelope
from lethe_common.privacy import Receipt, privacy_subscriptions
from lethe_common.runtime import Runtime, Sweep
from lethe_common.service import worker_main
from lethe_common.subject import Subject
from lethe_consent.config import ConsentConfig, load_config
from lethe_consent.repository import INDEXES
from lethe_consent.staff import StaffDesk
from lethe_consent.wiring import ConsentParts, build_parts

log = logging.getLogger(__name__)

REQUESTS_OVERDUE = Gauge(
    "lethe_privacy_requests_overdue",
    "Privacy requests past their due date and not answered, by kind.",
    ["kind"],
)
REQUESTS_PENDING = Gauge(
    "lethe_privacy_requests_pending",
    "Privacy requests not closed yet, by kind and status.",
    ["kind", "status"],
)


def subscriptions(parts: ConsentParts) -> list[Subscription]:
    def account_verified(event: Envelope) -> None:
        subject = Subject(account_id=str(event.payload["account_id"]), subject_key=event.subject_key)
        try:
            parts.ledger.record_account_consent(
                subject, str(event.payload["account_consent_version"]), event.id
            )
        except InvalidArgument as exc:  # retrying cannot make an unknown text version exist
            log.warning("account consent not recorded", extra={"event_id": event.id, "reason": str(exc)})

    def receipt(event: Envelope) -> None:
        parts.requests.receive(event.source, Receipt.from_envelope(event))

    return [
        Subscription("identity", "account.verified", account_verified),
        *privacy_subscriptions(parts.erasure.erase, parts.erasure.restrict),
        *(Subscription(source, "privacy.receipt", receipt) for source in ALL_SERVICES),
    ]


def check_deadlines(staff: StaffDesk, now: datetime | None = None) -> dict[str, int]:
    """Alert every request past its due date once and set the overdue gauge by kind."""
    overdue = staff.overdue_sweep(now)
    for kind, count in overdue.items():
        REQUESTS_OVERDUE.labels(kind=kind).set(count)
    return overdue


def sweeps(parts: ConsentParts, config: ConsentConfig) -> list[Sweep]:
    def deadlines() -> dict[str, int]:
        overdue = check_deadlines(parts.staff)
        _, pending = parts.staff.deadline_counts()
        for (kind, status), count in pending.items():
            REQUESTS_PENDING.labels(kind=kind, status=status).set(count)
        return overdue

    def retention() -> dict[str, int]:
        now = datetime.now(UTC)
        return {
            **parts.erasure.sweep(now),
            "unconfirmed_requests": parts.requests.retention.forget_expired_confirmations(now),
            "closed_requests": parts.requests.retention.forget_closed(now),
            "expired_download_links": parts.requests.access.forget_expired(now),
            "staff_audit": parts.staff.trail.sweep(now, config.common.audit_retention_days),
        }

    return [
        Sweep("erasure-verification", config.verify_interval_seconds, lambda: parts.verifier.run_due()),
        Sweep("privacy-deadlines", config.sweep_interval_seconds, deadlines),
        Sweep("consent-retention", max(config.sweep_interval_seconds, 300.0), retention),
        # Counts of confirmation mails whose window ended (lethe_common.send_limits).
        Sweep("consent-send-limits", config.sweep_interval_seconds, parts.requests.mail_limits.sweep),
    ]


def main() -> None:
    config = load_config()

    @functools.cache
    def parts_of(runtime: Runtime) -> ConsentParts:
        return build_parts(runtime, config)

    worker_main(
        config.common,
        subscriptions=lambda runtime: subscriptions(parts_of(runtime)),
        sweeps=lambda runtime: sweeps(parts_of(runtime), config),
        indexes=INDEXES,
    )


if __name__ == "__main__":
    main()
