"""The analytics worker process: event consumers, outbox relay and the retention sweep.

It does the analytics part of erasures (and answers restrictions, for which analytics has
nothing to block), deletes a person's page views when they withdraw the analytics consent,
and deletes page views whose retention has passed.
"""

from __future__ import annotations

import functools

from lethe_analytics.config import AnalyticsConfig, load_config
from lethe_analytics.repository import INDEXES
from lethe_analytics.wiring import AnalyticsParts, build_parts
from lethe_common.events.consumer import Subscription
from lethe_common.events.envelope import Envelope, EnvelopeError
from lethe_common.privacy import privacy_subscriptions
from lethe_common.runtime import Runtime, Sweep
from lethe_common.service import worker_main
from lethe_common.subject import Subject

PURPOSE = "analytics"


def _checked_person(event: Envelope) -> Subject:
    return Subject.checked(
        account_id=event.payload.get("account_id"), subject_key=event.subject_key, error=EnvelopeError
    )


def subscriptions(parts: AnalyticsParts) -> list[Subscription]:
    def consent_withdrawn(event: Envelope) -> None:
        if event.payload.get("purpose") == PURPOSE:
            parts.erasure.consent_withdrawn(_checked_person(event))

    return [
        Subscription("consent", "consent.withdrawn", consent_withdrawn),
        *privacy_subscriptions(parts.erasure.erase, parts.erasure.restrict),
    ]


def sweeps(parts: AnalyticsParts, config: AnalyticsConfig) -> list[Sweep]:
    return [Sweep("analytics-retention", config.sweep_interval_seconds, parts.analytics.sweep)]


def main() -> None:
    config = load_config()

    @functools.cache
    def parts_of(runtime: Runtime) -> AnalyticsParts:
        return build_parts(runtime, config)

    worker_main(
        config.common,
        subscriptions=lambda runtime: subscriptions(parts_of(runtime)),
        sweeps=lambda runtime: sweeps(parts_of(runtime), config),
        indexes=INDEXES,
    )


if __name__ == "__main__":
    main()
