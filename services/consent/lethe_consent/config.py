"""The consent service's configuration, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from lethe_common.config import CommonConfig, Env, load_common
from lethe_common.send_limits import MailLimits

SERVICE = "consent"
# The services that answer an erasure or restriction with a receipt. Each
# service joins this list with the issue that gives it its erasure handling.
DEFAULT_RECEIPT_SERVICES = ("identity", "consent", "shop", "newsletter", "analytics")
KNOWN_SERVICES = ("identity", "consent", "shop", "newsletter", "analytics", "gateway")
# Where the proof of erasure asks the other services to search (their gRPC APIs).
TRACE_DEFAULT_ADDRESSES = {
    "identity": "127.0.0.1:50051",
    "shop": "127.0.0.1:50053",
    "newsletter": "127.0.0.1:50054",
    "analytics": "127.0.0.1:50056",
}


@dataclass(frozen=True)
class ConsentConfig:
    common: CommonConfig
    public_url: str
    receipt_services: tuple[str, ...]
    request_due_months: int
    proof_retention_days: int
    confirmation_ttl_hours: int
    download_ttl_hours: int
    # Confirmation mails of requests without an account: per target address and window,
    # and per client (the caller's address as the gateway saw it) and window.
    # Confirmation mails per target address and per client (lethe_common.send_limits).
    confirmation_limits: MailLimits
    sweep_interval_seconds: float
    trace_addresses: dict[str, str]
    verify_timeout_seconds: float
    verify_delay_seconds: float
    verify_interval_seconds: float
    verify_retry_seconds: float
    # The dev stack's log files, which the proof of erasure searches too ("": none).
    log_dir: str


def _receipt_services(env: Env) -> tuple[str, ...]:
    services = env.list("CONSENT_RECEIPT_SERVICES", DEFAULT_RECEIPT_SERVICES)
    unknown = sorted(set(services) - set(KNOWN_SERVICES))
    if unknown or not services:
        env.problem(f"CONSENT_RECEIPT_SERVICES must name services among {', '.join(KNOWN_SERVICES)}")
    return tuple(dict.fromkeys(services))


def load_config() -> ConsentConfig:
    env = Env()
    common = load_common(SERVICE, env, grpc_port=50052, api_metrics_port=9102, worker_metrics_port=9202)
    config = ConsentConfig(
        common=common,
        public_url=env.str("LETHE_PUBLIC_URL", "http://127.0.0.1:8080").rstrip("/"),
        receipt_services=_receipt_services(env),
        # GDPR Art. 12(3): one month. 0 makes every request due at once (for tests).
        request_due_months=env.bounded_int("CONSENT_REQUEST_DUE_MONTHS", 1, 0, 3),
        proof_retention_days=env.bounded_int("CONSENT_PROOF_RETENTION_DAYS", 3 * 365, 0, 36500),
        confirmation_ttl_hours=env.bounded_int("CONSENT_CONFIRMATION_TTL_HOURS", 72, 1, 24 * 30),
        download_ttl_hours=env.bounded_int("CONSENT_DOWNLOAD_TTL_HOURS", 72, 1, 24 * 30),
        confirmation_limits=MailLimits.from_env(env, "CONSENT_CONFIRMATION"),
        sweep_interval_seconds=env.float("CONSENT_SWEEP_INTERVAL_SECONDS", 60.0),
        trace_addresses={
            name: env.str(f"{name.upper()}_GRPC_ADDR", default)
            for name, default in TRACE_DEFAULT_ADDRESSES.items()
        },
        verify_timeout_seconds=env.float("CONSENT_VERIFY_TIMEOUT_SECONDS", 1800.0),
        # A completed erasure is searched this long after its last receipt: the senders'
        # outbox intents of their receipts are gone by then.
        verify_delay_seconds=env.float("CONSENT_VERIFY_DELAY_SECONDS", 3.0),
        verify_interval_seconds=env.float("CONSENT_VERIFY_INTERVAL_SECONDS", 5.0),
        verify_retry_seconds=env.float("CONSENT_VERIFY_RETRY_SECONDS", 1800.0),
        log_dir=env.str("LETHE_LOG_DIR", ""),
    )
    env.check()
    return config
