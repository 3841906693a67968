"""The gateway process on its own: uvicorn on a real port, as ``make up`` runs it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from lethe_testing import BACKENDS, free_port, start_gateway

LoneGateway = Callable[..., AbstractContextManager[str]]


@contextmanager
def _lone_gateway(log_dir: Path, **overrides: str) -> Iterator[str]:
    """``python -m lethe_gateway.api`` with no backend behind it (every backend address is
    a port nothing listens on), ready; its base URL. Stopped afterwards."""
    dead = {f"{name.upper()}_GRPC_ADDR": f"127.0.0.1:{free_port()}" for name in BACKENDS}
    gateway, url = start_gateway(
        {}, log_dir, **{**dead, "LETHE_GATEWAY_RPC_TIMEOUT_SECONDS": "2", **overrides}
    )
    try:
        gateway.wait_ready()
        yield url
    finally:
        gateway.stop()


@pytest.fixture(scope="module")
def lone_gateway(tmp_path_factory: pytest.TempPathFactory) -> LoneGateway:
    """Start a gateway with these environment overrides: ``with lone_gateway(**env) as url``."""

    def start(**overrides: str) -> AbstractContextManager[str]:
        return _lone_gateway(tmp_path_factory.mktemp("gateway"), **overrides)

    return start


@pytest.fixture(scope="module")
def gateway_url(lone_gateway: LoneGateway) -> Iterator[str]:
    """A gateway with the default configuration."""
    with lone_gateway() as url:
        yield url
