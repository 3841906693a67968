"""Where a client finds a service's API replicas, and how it spreads calls over them.

An address is one ``host:port``, a comma-separated list of them (the dev stack's
replicas), or any gRPC target such as ``dns:///identity-api:50051`` (a Kubernetes
headless service). Calls go round-robin over every replica whose gRPC health says
SERVING, so a replica that drains (SIGTERM) or lost its store gets no new calls.
"""

from __future__ import annotations

import json
from typing import Any

# Client-side health checking needs the standard health service on every replica
# (lethe_common.grpc_server registers it) and the round_robin policy.
SERVICE_CONFIG = json.dumps(
    {
        "loadBalancingConfig": [{"round_robin": {}}],
        "healthCheckConfig": {"serviceName": ""},
    }
)


def target(address: str) -> str:
    """The gRPC target of ``address``: a list of ``host:port`` becomes an ``ipv4:`` target."""
    address = address.strip()
    if "," in address and ":///" not in address and not address.startswith("ipv4:"):
        return "ipv4:" + ",".join(part.strip() for part in address.split(",") if part.strip())
    return address


# gRPC's default reconnect backoff grows to 120 s: a replica restarted after a minute
# away would be shunned for up to two minutes. Ours are on the same network: try again
# within 2 s at most.
RECONNECT_BACKOFF_MS = (
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
)


def channel_options() -> list[tuple[str, Any]]:
    return [("grpc.service_config", SERVICE_CONFIG), ("grpc.enable_retries", 1), *RECONNECT_BACKOFF_MS]
