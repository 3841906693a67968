"""The page frame without a stack: texts in both languages, the language choice, the
security headers on pages, API answers and refusals alike."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from lethe_gateway.app import create_app
from lethe_gateway.config import GatewayConfig
from lethe_gateway.web.headers import CONTENT_SECURITY_POLICY
from lethe_gateway.web.i18n import TEXTS, language
from lethe_testing import BACKENDS, free_port

pytestmark = pytest.mark.unit


def test_every_text_exists_in_english_and_german() -> None:
    assert set(TEXTS["en"]) == set(TEXTS["de"])
    assert all(TEXTS["de"][key].strip() for key in TEXTS["de"])


@pytest.mark.parametrize(
    ("header", "cookie", "expected"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "", "de"),
        ("en-GB,de;q=0.5", "", "en"),
        ("fr-FR,de;q=0.3", "", "de"),
        ("fr-FR", "", "en"),
        ("de", "en", "en"),
        ("", "de", "de"),
        ("de;q=nonsense", "", "en"),
    ],
)
def test_the_language_follows_the_switch_then_accept_language(
    header: str, cookie: str, expected: str
) -> None:
    from starlette.requests import Request

    headers = [(b"accept-language", header.encode())]
    if cookie:
        headers.append((b"cookie", f"lethe_lang={cookie}".encode()))
    assert language(Request({"type": "http", "headers": headers})) == expected


def test_the_policy_allows_nothing_inline_and_no_other_origin() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY and "'unsafe-eval'" not in CONTENT_SECURITY_POLICY
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert all(v in ("'self'", "'none'") for v in directives.values())


def test_every_response_has_the_security_headers() -> None:
    config = GatewayConfig(
        host="127.0.0.1",
        port=free_port(),
        log_level="INFO",
        backends={name: "127.0.0.1:1" for name in BACKENDS},
        health_timeout_seconds=0.2,
        rpc_timeout_seconds=0.2,
        cookie_secure="auto",
        session_cache_seconds=0.0,
    )
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        for path in ("/static/site.css", "/healthz", "/api/v1/nothing-here", "/login", "/cookies"):
            answer = client.get(path)
            assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
            assert answer.headers["x-content-type-options"] == "nosniff", path
            assert answer.headers["referrer-policy"] == "same-origin", path
            assert "camera=()" in answer.headers["permissions-policy"], path
            assert "strict-transport-security" not in answer.headers, path
        secure = client.get("https://testserver/healthz")
        assert secure.headers["strict-transport-security"].startswith("max-age=")


def test_metrics_name_the_whole_route_template_of_an_included_router() -> None:
    """The log-in storm alert counts route="/api/v1/session": the router's prefix included."""
    from prometheus_client import REGISTRY

    def count() -> float:
        labels = {"method": "POST", "route": "/api/v1/session", "status": "422"}
        return REGISTRY.get_sample_value("lethe_http_requests_total", labels) or 0.0

    config = GatewayConfig(
        host="127.0.0.1",
        port=free_port(),
        log_level="INFO",
        backends={name: "127.0.0.1:1" for name in BACKENDS},
        health_timeout_seconds=0.2,
        rpc_timeout_seconds=0.2,
        cookie_secure="auto",
        session_cache_seconds=0.0,
    )
    before = count()
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        assert client.post("/api/v1/session", json={"email": 1}).status_code == 422
    assert count() == before + 1
