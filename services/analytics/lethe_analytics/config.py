"""The analytics service's configuration, read once from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lethe_common.config import CommonConfig, Env, load_common
from lethe_common.signing import derive_key

SERVICE = "analytics"
# 13 months: the longest the analytics consent text promises to keep a page view.
MAX_RETENTION_DAYS = 396


@dataclass(frozen=True)
class AnalyticsConfig:
    common: CommonConfig
    # Key of the keyed hash that stands for a visitor (never the cookie's id itself);
    # derived from the subject pepper, so it comes from the one secret store.
    visitor_key: bytes
    retention_days: int
    sweep_interval_seconds: float
    top_pages: int


def load_config(environ: Mapping[str, str] | None = None) -> AnalyticsConfig:
    env = Env(environ)
    common = load_common(SERVICE, env, grpc_port=50056, api_metrics_port=9106, worker_metrics_port=9206)
    sweep_interval = env.float("ANALYTICS_SWEEP_INTERVAL_SECONDS", 3600.0)
    if not 1.0 <= sweep_interval <= 86400.0:
        env.problem("ANALYTICS_SWEEP_INTERVAL_SECONDS must be between 1 and 86400 seconds")
    pepper = common.subject_pepper
    config = AnalyticsConfig(
        common=common,
        visitor_key=derive_key(pepper, "analytics-visitor") if pepper else b"",
        retention_days=env.bounded_int(
            "ANALYTICS_EVENT_RETENTION_DAYS", MAX_RETENTION_DAYS, 1, MAX_RETENTION_DAYS
        ),
        sweep_interval_seconds=sweep_interval,
        top_pages=env.bounded_int("ANALYTICS_TOP_PAGES", 10, 1, 50),
    )
    env.check()
    return config
