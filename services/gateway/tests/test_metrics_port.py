"""GATEWAY_METRICS_PORT: the gateway's /metrics on a port of its own, never on the public one."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import pytest
from fastapi.testclient import TestClient

from lethe_common.config import ConfigError
from lethe_gateway.app import create_app
from lethe_gateway.config import GatewayConfig, load_config
from lethe_testing import BACKENDS, free_port, wait_for

LoneGateway = Callable[..., AbstractContextManager[str]]  # the fixture of conftest.py


def _config(metrics_port: int | None) -> GatewayConfig:
    return GatewayConfig(
        host="127.0.0.1",
        port=free_port(),
        log_level="INFO",
        backends={name: f"127.0.0.1:{free_port()}" for name in BACKENDS},
        health_timeout_seconds=1.0,
        rpc_timeout_seconds=1.0,
        cookie_secure="auto",
        session_cache_seconds=0.0,
        metrics_port=metrics_port,
    )


@pytest.mark.unit
def test_the_metrics_port_is_read_once_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_METRICS_PORT", raising=False)
    monkeypatch.setenv("LETHE_GATEWAY_PORT", "8080")
    assert load_config().metrics_port is None
    monkeypatch.setenv("GATEWAY_METRICS_PORT", "9105")
    assert load_config().metrics_port == 9105
    for bad in ("0", "70000", "nine", "8080"):
        monkeypatch.setenv("GATEWAY_METRICS_PORT", bad)
        with pytest.raises(ConfigError, match="GATEWAY_METRICS_PORT"):
            load_config()


@pytest.mark.unit
def test_the_public_app_serves_metrics_only_without_a_metrics_port() -> None:
    with TestClient(create_app(_config(None)), raise_server_exceptions=False) as public:
        assert public.get("/metrics").status_code == 200
    with TestClient(create_app(_config(free_port())), raise_server_exceptions=False) as public:
        answer = public.get("/metrics")
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"
        assert "lethe_http_requests_total" not in answer.text


def test_the_gateway_process_serves_metrics_on_its_metrics_port_only(lone_gateway: LoneGateway) -> None:
    port = free_port()
    with lone_gateway(GATEWAY_METRICS_PORT=str(port)) as url:
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert httpx.get(f"{url}/metrics").status_code == 404
        metrics_url = f"http://127.0.0.1:{port}/metrics"
        answer = wait_for(lambda: httpx.get(metrics_url), 10, what="the metrics port")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")
        # counted by route template; the 404 of /metrics on the public port too
        assert re.search(
            r'^lethe_http_requests_total\{method="GET",route="/healthz",status="200"\} [1-9]',
            answer.text,
            re.M,
        )
        assert 'lethe_http_requests_total{method="GET",route="unmatched",status="404"}' in answer.text
        assert "lethe_http_request_duration_seconds_bucket" in answer.text
