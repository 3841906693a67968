"""The gateway's configuration, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from lethe_common.config import Env, log_level

BACKEND_DEFAULT_PORTS = {"identity": 50051, "consent": 50052, "shop": 50053, "newsletter": 50054}


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
    )
    env.check()
    return config
