"""The gateway process: uvicorn serving :func:`lethe_gateway.app.create_app`."""

from __future__ import annotations

import uvicorn

from lethe_common.logging import configure_logging
from lethe_gateway.app import create_app
from lethe_gateway.config import load_config


def main() -> None:
    config = load_config()
    configure_logging("gateway", "http", config.log_level)
    uvicorn.run(
        create_app(config),
        host=config.host,
        port=config.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
