"""The gateway's configuration, read once from the environment."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from lethe_common.config import Env, log_level

BACKEND_DEFAULT_PORTS = {
    "identity": 50051,
    "consent": 50052,
    "shop": 50053,
    "newsletter": 50054,
    "analytics": 50056,
}
DEFAULT_MAX_BODY_BYTES = 64 * 1024
# Below 1 KiB not even a registration fits; above 16 MiB a body is no JSON request of ours.
MAX_BODY_BYTES_RANGE = (1024, 16 * 1024 * 1024)


@dataclass(frozen=True)
class GatewayConfig:
    host: str
    port: int
    log_level: str
    backends: dict[str, str]
    health_timeout_seconds: float
    rpc_timeout_seconds: float
    # auto: Secure cookies when the request came over TLS; true/false force it.
    cookie_secure: str
    # How long a GET may reuse identity's answer for a session (session_cache.py); 0: never.
    session_cache_seconds: float
    # Larger request bodies are refused with 413 before they are read (body_limit.py);
    # a route may declare a limit of its own (the provider's notifications, campaigns).
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # How long GET /api/v1/me/data-export waits for each service's part (its own deadline);
    # a part not there by then is named as missing in the document.
    export_timeout_seconds: float = 5.0
    verify_timeout_seconds: float = 150.0
    # GATEWAY_METRICS_PORT: /metrics (and /healthz, /readyz) on a port of its own, on the
    # same host as the API; the public app's /metrics then answers 404. None: served publicly.
    metrics_port: int | None = None
    # LETHE_GATEWAY_TRUSTED_PROXIES: addresses or networks (the ingress) whose
    # X-Forwarded-For / X-Forwarded-Proto the gateway believes; empty: nobody's.
    trusted_proxies: tuple[str, ...] = ()
    # LETHE_GATEWAY_ACCESS_LOG_DIR: one JSON line per request in access-YYYY-MM-DD.log there
    # (access_log.py); empty: no access log. Day files older than access_log_days are swept.
    access_log_dir: str = ""
    access_log_days: int = 7
    # LETHE_GATEWAY_PAYMENT_PAGE_URL: the payment provider's base URL as the browser reaches
    # it; the checkout page sends the person to its hosted card page (web/checkout_pages.py),
    # so a card number never reaches Lethe. Empty: the checkout cannot take payments.
    payment_page_url: str = ""


def _max_body_bytes(env: Env) -> int:
    name, (low, high) = "LETHE_GATEWAY_MAX_BODY_BYTES", MAX_BODY_BYTES_RANGE
    raw = env.str(name, str(DEFAULT_MAX_BODY_BYTES))
    if not (raw.isascii() and raw.isdigit() and low <= int(raw) <= high):
        env.problem(f"{name} must be a whole number of bytes from {low} to {high}, got {raw!r}")
        return DEFAULT_MAX_BODY_BYTES
    return int(raw)


def _trusted_proxies(env: Env) -> tuple[str, ...]:
    """Each an IP address or network; "*" is refused (anyone could then forge a client)."""
    name = "LETHE_GATEWAY_TRUSTED_PROXIES"
    entries = env.list(name)
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            env.problem(f"{name} must list IP addresses or networks (e.g. 10.0.0.0/8), got {entry!r}")
    return entries


def _metrics_port(env: Env) -> int | None:
    name = "GATEWAY_METRICS_PORT"
    raw = env.str(name, "")
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 65535):
        env.problem(f"{name} must be a port number from 1 to 65535, got {raw!r}")
        return None
    return int(raw)


def load_config() -> GatewayConfig:
    env = Env()
    config = GatewayConfig(
        host=env.str("LETHE_GATEWAY_HOST", "127.0.0.1"),
        port=env.int("LETHE_GATEWAY_PORT", 8080),
        log_level=log_level(env),
        backends={
            name: env.str(f"{name.upper()}_GRPC_ADDR", f"127.0.0.1:{port}")
            for name, port in BACKEND_DEFAULT_PORTS.items()
        },
        health_timeout_seconds=env.float("LETHE_GATEWAY_HEALTH_TIMEOUT_SECONDS", 1.0),
        rpc_timeout_seconds=env.float("LETHE_GATEWAY_RPC_TIMEOUT_SECONDS", 10.0),
        cookie_secure=env.choice("LETHE_GATEWAY_COOKIE_SECURE", "auto", ("auto", "true", "false")),
        session_cache_seconds=env.float("LETHE_GATEWAY_SESSION_CACHE_SECONDS", 2.0),
        max_body_bytes=_max_body_bytes(env),
        export_timeout_seconds=env.float("LETHE_GATEWAY_EXPORT_TIMEOUT_SECONDS", 5.0),
        verify_timeout_seconds=env.float("LETHE_GATEWAY_VERIFY_TIMEOUT_SECONDS", 150.0),
        metrics_port=_metrics_port(env),
        trusted_proxies=_trusted_proxies(env),
        access_log_dir=env.str("LETHE_GATEWAY_ACCESS_LOG_DIR", ""),
        access_log_days=env.bounded_int("LETHE_GATEWAY_ACCESS_LOG_DAYS", 7, 1, 365),
        payment_page_url=env.str("LETHE_GATEWAY_PAYMENT_PAGE_URL", "").rstrip("/"),
    )
    if config.metrics_port is not None and config.metrics_port == config.port:
        env.problem("GATEWAY_METRICS_PORT must differ from LETHE_GATEWAY_PORT")
    if config.payment_page_url and not config.payment_page_url.startswith(("http://", "https://")):
        env.problem("LETHE_GATEWAY_PAYMENT_PAGE_URL must be an http:// or https:// address")
    if not config.export_timeout_seconds > 0:
        env.problem("LETHE_GATEWAY_EXPORT_TIMEOUT_SECONDS must be a number of seconds above 0")
    env.check()
    return config
