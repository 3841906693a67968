"""The analytics domain wired together once, for the API and the worker alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from lethe_analytics.analytics import Analytics, Clock
from lethe_analytics.config import SERVICE, AnalyticsConfig
from lethe_analytics.domain import utc_now
from lethe_analytics.erasure import AnalyticsErasure
from lethe_analytics.repository import AnalyticsRepository
from lethe_common import tokens
from lethe_common.privacy import ReceiptSender
from lethe_common.runtime import Runtime


@dataclass(frozen=True)
class AnalyticsParts:
    repo: AnalyticsRepository
    analytics: Analytics
    erasure: AnalyticsErasure


def build_parts(runtime: Runtime, config: AnalyticsConfig, clock: Clock = utc_now) -> AnalyticsParts:
    # Each process counts page views in documents of its own (repository: single writer).
    repo = AnalyticsRepository(runtime.db, writer=tokens.new_id("wrk"))
    analytics = Analytics(
        repo, config.visitor_key, timedelta(days=config.retention_days), config.top_pages, clock
    )
    receipts = ReceiptSender(runtime.db, runtime.outbox, SERVICE)
    return AnalyticsParts(repo, analytics, AnalyticsErasure(analytics, repo, receipts))
