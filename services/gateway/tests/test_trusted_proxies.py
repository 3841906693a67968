"""X-Forwarded-For is believed only from the proxies in LETHE_GATEWAY_TRUSTED_PROXIES (the
ingress), checked on a real uvicorn with the gateway's own server settings."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn

from lethe_common.config import ConfigError
from lethe_gateway.api import server_settings
from lethe_gateway.config import GatewayConfig, load_config
from lethe_testing import BACKENDS, free_port, wait_for

pytestmark = pytest.mark.unit


async def echo_client(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers with the client address and scheme uvicorn settled on."""
    if scope["type"] != "http":
        return
    body = json.dumps({"client": scope["client"][0], "scheme": scope["scheme"]}).encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": body})


@contextmanager
def serving(trusted: tuple[str, ...]) -> Iterator[str]:
    config = GatewayConfig(
        host="127.0.0.1",
        port=free_port(),
        log_level="INFO",
        backends={name: "127.0.0.1:1" for name in BACKENDS},
        health_timeout_seconds=1.0,
        rpc_timeout_seconds=1.0,
        cookie_secure="auto",
        session_cache_seconds=0.0,
        trusted_proxies=trusted,
    )
    server = uvicorn.Server(uvicorn.Config(echo_client, lifespan="off", **server_settings(config)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, 10, what="uvicorn to start")
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(10)


FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}


def test_without_trusted_proxies_forwarded_headers_are_ignored() -> None:
    with serving(()) as url:
        seen = httpx.get(url, headers=FORWARDED).json()
    assert seen == {"client": "127.0.0.1", "scheme": "http"}


def test_a_trusted_proxy_passes_on_the_client_address_and_scheme() -> None:
    with serving(("127.0.0.0/8",)) as url:
        seen = httpx.get(url, headers=FORWARDED).json()
    assert seen == {"client": "203.0.113.7", "scheme": "https"}


def test_a_proxy_outside_the_trusted_networks_is_not_believed() -> None:
    with serving(("10.0.0.0/8",)) as url:
        seen = httpx.get(url, headers=FORWARDED).json()
    assert seen["client"] == "127.0.0.1"


def test_trusted_proxies_must_be_addresses_or_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LETHE_GATEWAY_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1")
    assert load_config().trusted_proxies == ("10.0.0.0/8", "192.0.2.1")
    for bad in ("*", "ingress.local", "10.0.0.0/33"):
        monkeypatch.setenv("LETHE_GATEWAY_TRUSTED_PROXIES", bad)
        with pytest.raises(ConfigError, match="LETHE_GATEWAY_TRUSTED_PROXIES"):
            load_config()
