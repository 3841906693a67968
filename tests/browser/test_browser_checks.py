"""The browser checks of lethe_testing.browser catch what they are for, and pass a good page.

Tiny pages served by a throwaway http.server on 127.0.0.1 (and a second one on 127.0.0.2,
another origin): a good page, and one bad page per check. Each check must fail on its bad
page, or it checks nothing.
"""

from __future__ import annotations

import http.server
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import Browser

from lethe_testing.browser import (
    CONSENT_CHOICE_COOKIE,
    CSRF_COOKIE,
    AxeUnavailable,
    PageRecorder,
    Viewport,
    axe_violations,
    csp_problems,
    necessary_cookies_only,
    new_context,
    screenshot,
    security_header_problems,
    unnecessary_cookies,
)

GOOD_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "X-Content-Type-Options": "nosniff",
}
GOOD_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Good page</title><link rel="stylesheet" href="/static/app.css"></head>
<body><main><h1>Newsletter</h1>
<form method="post" action="/submit">
<label for="name">Your name</label> <input id="name" name="name" autocomplete="name">
<button type="submit">Send</button>
</form></main><script src="/static/app.js"></script></body></html>
"""
STATIC: dict[str, tuple[str, bytes]] = {
    "/static/app.css": ("text/css", b"body { color: #111; background: #fff; font: 16px sans-serif; }"),
    "/static/app.js": ("text/javascript", b"document.body.dataset.js = 'on';"),
    "/x.png": (
        "image/png",
        # 1x1 transparent PNG
        bytes.fromhex(
            "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
            "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5f1d9c50000000049454e44ae426082"
        ),
    ),
}


def bare(title: str, body: str) -> str:
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>\n'
        f"<body><main><h1>{title}</h1>{body}</main></body></html>\n"
    )


@dataclass
class Site:
    url: str  # http://127.0.0.1:<port>
    foreign_url: str  # http://127.0.0.2:<port>: another origin


Headers = list[tuple[str, str]]
GOOD: Headers = list(GOOD_HEADERS.items())


def pages(foreign: str) -> dict[str, tuple[Headers, str]]:
    """path -> (headers, HTML) of every test page."""
    return {
        "/good": ([*GOOD, ("Set-Cookie", f"{CSRF_COOKIE}=abc; Path=/; SameSite=Lax")], GOOD_PAGE),
        # no CSP at all, and no other security header; an inline script runs
        "/inline-script": (
            [],
            bare("Inline", "<p>hello</p><script>document.body.dataset.inline = 'ran';</script>"),
        ),
        # good headers, but an inline script that the page's own CSP blocks
        "/blocked-inline": (
            GOOD,
            bare("Blocked", "<p>hello</p><script>document.body.dataset.inline = 'ran';</script>"),
        ),
        # an image from another origin, which the page's CSP allows
        "/foreign-image": (
            [(name, value.replace("img-src 'self'", f"img-src 'self' {foreign}")) for name, value in GOOD],
            bare("Foreign", f'<img src="{foreign}/x.png" alt="a dot">'),
        ),
        # an unlabeled input and light grey text on white
        "/inaccessible": (
            GOOD,
            bare(
                "Inaccessible",
                '<form method="post" action="/submit"><input name="name"></form>'
                '<p style="color:#ddd;background:#fff">hard to read</p>',
            ),
        ),
        # a tracking cookie beside the necessary ones, and a page-view request
        "/tracking": (
            [
                *GOOD,
                ("Set-Cookie", f"{CONSENT_CHOICE_COOKIE}=declined; Path=/; SameSite=Lax"),
                ("Set-Cookie", "_ga=GA1.1.123; Path=/; Max-Age=3600"),
            ],
            bare("Tracking", '<img src="/api/v1/analytics/pageview.png" alt="">'),
        ),
    }


class Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[Headers, str]] = {}

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path in STATIC or path.startswith("/api/v1/analytics/"):
            kind, content = STATIC.get(path, STATIC["/x.png"])
            self._send(200, [("Content-Type", kind)], content)
            return
        if path not in self.routes:
            self._send(404, [("Content-Type", "text/plain")], b"not found")
            return
        headers, body = self.routes[path]
        self._send(200, [("Content-Type", "text/html; charset=utf-8"), *headers], body.encode())

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(length).decode())
        name = form.get("name", [""])[0]
        body = bare("Thanks", f"<p id='answer'>Thank you, {name.replace('<', '&lt;')}</p>")
        self._send(200, [*GOOD, ("Content-Type", "text/html; charset=utf-8")], body.encode())

    def _send(self, status: int, headers: Headers, body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    hosts = ("127.0.0.1", "127.0.0.2")  # two origins: all of 127/8 is loopback
    servers = [http.server.ThreadingHTTPServer((host, 0), Handler) for host in hosts]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    url, foreign = (f"http://{host}:{s.server_port}" for host, s in zip(hosts, servers, strict=True))
    Handler.routes = pages(foreign)
    yield Site(url, foreign)
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_good_page_passes_every_check(chromium: Browser, site: Site) -> None:
    context = new_context(chromium)
    page = context.new_page()
    recorder = PageRecorder(page)
    response = page.goto(f"{site.url}/good")
    assert response is not None and response.ok
    assert page.locator("body").get_attribute("data-js") == "on"  # its own script ran
    assert recorder.foreign(site.url) == []
    assert recorder.analytics() == []
    assert recorder.csp_violations == []
    assert sorted(recorder.urls) == sorted(
        f"{site.url}{p}" for p in ("/good", "/static/app.css", "/static/app.js")
    )
    assert security_header_problems(response) == []
    assert necessary_cookies_only(context), unnecessary_cookies(context)
    assert [c.get("name") for c in context.cookies()] == [CSRF_COOKIE]
    context.close()

    for_axe = new_context(chromium, bypass_csp=True)
    page = for_axe.new_page()
    response = page.goto(f"{site.url}/good")
    assert axe_violations(page) == []
    # bypass_csp changes what the browser enforces, not the headers the checks read
    assert response is not None and security_header_problems(response) == []
    assert "frame-ancestors 'none'" in response.all_headers()["content-security-policy"]
    for_axe.close()


def test_missing_headers_and_inline_scripts_are_caught(chromium: Browser, site: Site) -> None:
    context = new_context(chromium)
    page = context.new_page()
    response = page.goto(f"{site.url}/inline-script")
    assert response is not None
    assert page.locator("body").get_attribute("data-inline") == "ran"  # nothing stopped it
    assert security_header_problems(response) == [
        "Content-Security-Policy missing",
        "Referrer-Policy missing",
        "Permissions-Policy missing",
        "X-Content-Type-Options is not nosniff",
    ]

    recorder = PageRecorder(page)
    response = page.goto(f"{site.url}/blocked-inline")
    assert response is not None and security_header_problems(response) == []
    assert page.locator("body").get_attribute("data-inline") is None  # the CSP blocked it
    assert len(recorder.csp_violations) == 1, recorder.csp_violations
    assert "script-src 'self'" in recorder.csp_violations[0]
    context.close()


def test_requests_to_another_origin_are_recorded(chromium: Browser, site: Site) -> None:
    context = new_context(chromium)
    page = context.new_page()
    recorder = PageRecorder(page)
    response = page.goto(f"{site.url}/foreign-image")
    page.wait_for_load_state("load")
    assert recorder.foreign(site.url) == [f"{site.foreign_url}/x.png"]
    assert recorder.foreign(site.foreign_url) == [f"{site.url}/foreign-image"]
    # the page's CSP names the other origin: the header check reports it too
    assert response is not None
    assert security_header_problems(response) == [
        f"CSP: img-src allows {site.foreign_url}, another origin than 'self'"
    ]
    context.close()


def test_tracking_cookies_and_analytics_requests_are_caught(chromium: Browser, site: Site) -> None:
    context = new_context(chromium)
    page = context.new_page()
    recorder = PageRecorder(page)
    page.goto(f"{site.url}/tracking")
    page.wait_for_load_state("load")
    assert not necessary_cookies_only(context)
    assert unnecessary_cookies(context) == ["_ga (127.0.0.1)"]  # not lethe_consent_choice
    assert recorder.analytics() == [f"{site.url}/api/v1/analytics/pageview.png"]
    assert recorder.foreign(site.url) == []  # same origin, and still analytics
    context.close()


def test_axe_finds_an_unlabeled_input_and_low_contrast(chromium: Browser, site: Site) -> None:
    context = new_context(chromium, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{site.url}/inaccessible")
    found = axe_violations(page)
    assert [line.split(":")[0] for line in found] == ["serious color-contrast", "critical label"], found
    assert "(p)" in found[0] and "(input)" in found[1]
    assert axe_violations(page, impacts=("minor",)) == []
    context.close()


def test_axe_is_blocked_by_a_strict_csp_without_bypass(chromium: Browser, site: Site) -> None:
    context = new_context(chromium)
    page = context.new_page()
    page.goto(f"{site.url}/good")
    with pytest.raises(AxeUnavailable, match="bypass_csp=True"):
        axe_violations(page)
    context.close()


def test_a_form_posts_with_javascript_disabled(chromium: Browser, site: Site) -> None:
    context = new_context(chromium, javascript=False, viewport="phone", locale="en")
    page = context.new_page()
    page.goto(f"{site.url}/good")
    assert page.locator("body").get_attribute("data-js") is None  # its script did not run
    page.get_by_label("Your name").fill("Ada <3")
    with page.expect_navigation():
        page.get_by_role("button", name="Send").click()
    assert page.locator("#answer").inner_text() == "Thank you, Ada <3"
    context.close()


def png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def test_screenshots_at_phone_and_desktop_width(chromium: Browser, site: Site, tmp_path: Path) -> None:
    sizes: list[tuple[Viewport, int]] = [("phone", 390), ("desktop", 1366)]
    for viewport, width in sizes:
        context = new_context(chromium, viewport=viewport)
        page = context.new_page()
        page.goto(f"{site.url}/good")
        path = screenshot(page, "good page", folder=tmp_path)
        assert path == tmp_path / f"good-page-{viewport}.png"
        assert png_size(path)[0] == width
        context.close()


@pytest.mark.unit
@pytest.mark.parametrize(
    ("policy", "problem"),
    [
        ("default-src 'self' 'unsafe-inline'", "CSP: default-src allows 'unsafe-inline'"),
        ("script-src 'self' 'unsafe-eval'", "CSP: script-src allows 'unsafe-eval'"),
        ("style-src 'self' 'unsafe-inline'", "CSP: style-src allows 'unsafe-inline'"),
        ("frame-ancestors 'self'", "CSP: frame-ancestors is 'self', not 'none'"),
        ("frame-ancestors", "CSP: frame-ancestors is , not 'none'"),
        ("object-src 'self'", "CSP: object-src is 'self', not 'none'"),
        ("base-uri https://cdn.example", "CSP: base-uri missing or not 'none'/'self' (it does not fall back"),
        ("script-src 'self' https://cdn.example", "CSP: script-src allows https://cdn.example, another"),
        ("img-src 'self' data: https:", "CSP: img-src allows https:, another origin than 'self'"),
        ("script-src 'self' data:", "CSP: script-src allows data:, another origin than 'self'"),
        ("connect-src *", "CSP: connect-src allows *, another origin than 'self'"),
    ],
)  # fmt: skip
def test_each_csp_weakness_is_named(policy: str, problem: str) -> None:
    strict = {
        "default-src": "'none'",
        "script-src": "'self' 'nonce-r4nd0m'",
        "style-src": "'self' 'sha256-abc+/='",
        "img-src": "'self' data:",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
        "base-uri": "'none'",
    }
    assert csp_problems("; ".join(f"{k} {v}" for k, v in strict.items())) == []
    name = policy.split()[0]
    weakened = {**strict, name: policy.removeprefix(name).strip()}
    found = csp_problems("; ".join(f"{k} {v}" for k, v in weakened.items()))
    assert any(line.startswith(problem) for line in found), found


@pytest.mark.unit
def test_header_checks_name_each_missing_or_weak_header() -> None:
    assert security_header_problems(GOOD_HEADERS) == []
    assert security_header_problems({**GOOD_HEADERS, "Referrer-Policy": "unsafe-url"}) == [
        "Referrer-Policy unsafe-url sends the full address elsewhere"
    ]
    assert security_header_problems({**GOOD_HEADERS, "Permissions-Policy": "camera=(), microphone"}) == [
        "Permissions-Policy item 'microphone' is malformed"
    ]
    assert security_header_problems({**GOOD_HEADERS, "X-Content-Type-Options": "sniff"}) == [
        "X-Content-Type-Options is not nosniff"
    ]
    assert security_header_problems({**GOOD_HEADERS, "Content-Security-Policy": "default-src 'none'"}) == [
        "CSP: frame-ancestors is missing, not 'none'",
        "CSP: base-uri missing or not 'none'/'self' (it does not fall back to default-src)",
        "CSP: form-action missing (it does not fall back to default-src)",
    ]
    assert csp_problems("script-src 'self'; object-src 'none'")[:2] == [
        "CSP: no style-src and no default-src: styles from anywhere",
        "CSP: frame-ancestors is missing, not 'none'",
    ]
    assert csp_problems("style-src 'self'; object-src 'none'")[0] == (
        "CSP: no script-src and no default-src: scripts from anywhere"
    )
    # HSTS only over TLS
    hsts = "Strict-Transport-Security"
    assert security_header_problems(GOOD_HEADERS, tls=True) == [
        "Strict-Transport-Security missing or max-age below 31536000 over TLS"
    ]
    assert security_header_problems({**GOOD_HEADERS, hsts: "max-age=600"}, tls=True) != []
    assert (
        security_header_problems({**GOOD_HEADERS, hsts: "max-age=31536000; includeSubDomains"}, tls=True)
        == []
    )
