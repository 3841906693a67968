"""The newsletter service's configuration, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from lethe_common.config import CommonConfig, Env, load_common
from lethe_common.send_limits import MailLimits
from lethe_common.signing import derive_key

SERVICE = "newsletter"


@dataclass(frozen=True)
class NewsletterConfig:
    common: CommonConfig
    public_url: str
    consent_grpc_addr: str
    # Key for the confirmation and unsubscribe links; from NEWSLETTER_LINK_SECRET, else
    # derived from the subject pepper, so that both come from the one secret store.
    link_key: bytes
    confirmation_ttl_hours: int
    confirmation_resend_seconds: int
    # Confirmation mails: per target address and window, and per client (the caller's
    # address as the gateway saw it) and window.
    # Confirmation mails per target address and per client (lethe_common.send_limits).
    confirmation_limits: MailLimits
    send_rate_per_second: float
    batch_size: int
    send_lease_seconds: float
    max_send_passes: int
    sweep_interval_seconds: float
    rpc_timeout_seconds: float


def _link_key(env: Env, pepper: str) -> bytes:
    secret = env.str("NEWSLETTER_LINK_SECRET", "")
    if secret and len(secret) < 32:
        env.problem("NEWSLETTER_LINK_SECRET must be at least 32 characters long")
    source = secret or pepper
    return derive_key(source, "newsletter") if source else b""


def load_config() -> NewsletterConfig:
    env = Env()
    common = load_common(SERVICE, env, grpc_port=50054, api_metrics_port=9104, worker_metrics_port=9204)
    rate = env.float("NEWSLETTER_SEND_RATE", 50.0)
    if rate < 0:
        env.problem("NEWSLETTER_SEND_RATE must be 0 (no limit) or more messages per second")
    config = NewsletterConfig(
        common=common,
        public_url=env.str("LETHE_PUBLIC_URL", "http://127.0.0.1:8080").rstrip("/"),
        consent_grpc_addr=env.str("CONSENT_GRPC_ADDR", "127.0.0.1:50052"),
        link_key=_link_key(env, common.subject_pepper),
        confirmation_ttl_hours=env.bounded_int("NEWSLETTER_CONFIRMATION_TTL_HOURS", 48, 1, 24 * 30),
        confirmation_resend_seconds=env.bounded_int(
            "NEWSLETTER_CONFIRMATION_RESEND_SECONDS", 600, 0, 86400 * 7
        ),
        confirmation_limits=MailLimits.from_env(env, "NEWSLETTER_CONFIRMATION"),
        send_rate_per_second=rate,
        # Subscribers are read again before each batch: at the default rate, someone who
        # leaves mid-campaign is passed by within about a second.
        batch_size=env.bounded_int("NEWSLETTER_BATCH_SIZE", 50, 1, 10_000),
        send_lease_seconds=env.float("NEWSLETTER_SEND_LEASE_SECONDS", 30.0),
        max_send_passes=env.bounded_int("NEWSLETTER_MAX_SEND_PASSES", 5, 1, 100),
        sweep_interval_seconds=env.float("NEWSLETTER_SWEEP_INTERVAL_SECONDS", 60.0),
        rpc_timeout_seconds=env.float("NEWSLETTER_RPC_TIMEOUT_SECONDS", 10.0),
    )
    env.check()
    return config
