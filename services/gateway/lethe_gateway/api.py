"""The gateway process: uvicorn serving :func:`lethe_gateway.app.create_app`, and with
``GATEWAY_METRICS_PORT`` set, /metrics on that port of the same host."""

from __future__ import annotations

from typing import Any

import uvicorn

from lethe_common.logging import configure_logging
from lethe_common.metrics import start_metrics_server
from lethe_gateway.access_log import start_sweeper
from lethe_gateway.app import create_app
from lethe_gateway.config import GatewayConfig, load_config


def server_settings(config: GatewayConfig) -> dict[str, Any]:
    """uvicorn's settings: forwarded headers believed only from the trusted proxies."""
    return {
        "host": config.host,
        "port": config.port,
        "log_config": None,
        "access_log": False,
        "proxy_headers": bool(config.trusted_proxies),
        "forwarded_allow_ips": list(config.trusted_proxies) or None,
        "timeout_graceful_shutdown": 5,
    }


def main() -> None:
    config = load_config()
    configure_logging("gateway", "http", config.log_level)
    if config.metrics_port is not None:
        # /metrics off the public port; its /readyz only says the process runs (the
        # backends' state is the public /readyz's).
        start_metrics_server(config.host, config.metrics_port)
    start_sweeper(config.access_log_dir, config.access_log_days)  # now, then hourly (a daemon thread)
    uvicorn.run(create_app(config), **server_settings(config))


if __name__ == "__main__":
    main()
