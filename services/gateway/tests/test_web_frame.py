"""The page frame without a stack: texts in both languages, the language choice, the
security headers on pages, API answers and refusals alike."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from lethe_gateway.app import create_app
from lethe_gateway.config import GatewayConfig
from lethe_gateway.cookies import cookie_name
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
    app = create_app(offline_config())
    scope = {
        "type": "http",
        "scheme": "http",
        "path": "/",
        "server": ("t", 80),
        "headers": headers,
        "app": app,
    }
    assert language(Request(scope)) == expected


def test_the_policy_allows_nothing_inline_and_no_other_origin() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY and "'unsafe-eval'" not in CONTENT_SECURITY_POLICY
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert all(v in ("'self'", "'none'") for v in directives.values())


def offline_config() -> GatewayConfig:
    """A gateway with no backend behind it: pages that need none still answer."""
    return GatewayConfig(
        host="127.0.0.1",
        port=free_port(),
        log_level="INFO",
        backends={name: "127.0.0.1:1" for name in BACKENDS},
        health_timeout_seconds=0.2,
        rpc_timeout_seconds=0.2,
        cookie_secure="auto",
        session_cache_seconds=0.0,
    )


def test_every_response_has_the_security_headers() -> None:
    with TestClient(create_app(offline_config()), raise_server_exceptions=False) as client:
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


def _set_cookies(answer: httpx.Response) -> dict[str, str]:
    """Each cookie the answer sets: its name and its attributes, lower case."""
    found = {}
    for header in answer.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        found[name] = rest.lower()
    return found


def test_over_tls_every_cookie_is_host_prefixed_and_secure() -> None:
    """__Host-: Secure, Path=/ and no Domain, so no sub-domain or plain-HTTP page can
    plant or shadow it; over plain HTTP (the dev stack) the bare names stay."""
    with TestClient(create_app(offline_config()), raise_server_exceptions=False) as client:
        plain = _set_cookies(client.get("http://testserver/cookies"))
        assert list(plain) == ["lethe_csrf"] and "secure" not in plain["lethe_csrf"]
        client.cookies.clear()
        page = client.get("https://testserver/cookies")
        tls = _set_cookies(page)
        assert list(tls) == ["__Host-lethe_csrf"]
        attributes = tls["__Host-lethe_csrf"]
        assert "secure" in attributes and "path=/" in attributes and "domain" not in attributes
        token = client.cookies["__Host-lethe_csrf"]
        switched = client.post(
            "https://testserver/language",
            data={"csrf_token": token, "to": "de", "next": "/cookies"},
            follow_redirects=False,
        )
        assert switched.status_code == 303
        assert "secure" in _set_cookies(switched)["__Host-lethe_lang"]
        # A bare-named cookie over TLS counts for nothing: it may come from a plain-HTTP page.
        client.cookies.clear()
        client.cookies.set("lethe_csrf", token)
        refused = client.post(
            "https://testserver/language",
            data={"csrf_token": token, "to": "de", "next": "/cookies"},
            follow_redirects=False,
        )
        assert "__Host-lethe_lang" not in _set_cookies(refused)


def test_a_cookie_scoped_to_a_path_takes_the_secure_prefix() -> None:
    from starlette.requests import Request

    app = create_app(offline_config())
    scope = {"type": "http", "scheme": "https", "headers": [], "app": app, "server": ("h", 443), "path": "/"}
    assert cookie_name(Request(scope), "lethe_checkout", "/checkout") == "__Secure-lethe_checkout"
    assert (
        cookie_name(Request({**scope, "scheme": "http"}), "lethe_checkout", "/checkout") == "lethe_checkout"
    )
