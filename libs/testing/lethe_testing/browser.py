"""Checks of web pages in a real browser: Debian's Chromium, driven by Playwright.

Playwright never downloads a browser here (``PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD``, no
``playwright install``): :func:`launch_chromium` starts the one at ``LETHE_CHROMIUM``
(default ``/usr/bin/chromium``, from ``apt-get install chromium chromium-driver``, which
``tools/setup.sh --test`` or ``--browser`` does). What a test checks on a page:

- :class:`PageRecorder`: every request of the page and its frames, so a test can assert
  that all go to the gateway's origin (:meth:`PageRecorder.foreign`) and that none is an
  analytics request (:meth:`PageRecorder.analytics`); it also keeps the CSP violations
  the browser reported;
- :func:`unnecessary_cookies` / :func:`necessary_cookies_only`: before consent, only the
  strictly necessary cookies (:data:`NECESSARY_COOKIES`);
- :func:`axe_violations`: axe-core (``tools/browser/node_modules``, pinned by its
  package-lock.json) run in the page;
- :func:`security_header_problems`: the response's security headers, read from the
  response itself;
- :func:`screenshot`: ``var/screenshots/<name>-<phone|desktop>.png``.

**axe-core and the Content-Security-Policy.** axe-core is injected as an inline script
(``page.add_script_tag(content=...)``); a strict CSP (no 'unsafe-inline') blocks that, as
it should. So :func:`axe_violations` needs a page of a context made with
``new_context(browser, bypass_csp=True)``: Playwright then tells Chromium to ignore the
page's CSP. Use such a context for axe only, never for the other checks: a page that
depends on something its own CSP blocks would look fine in it. The header checks are not
weakened by it in any case: :func:`security_header_problems` reads the headers of the HTTP
response as they came over the wire, which ``bypass_csp`` does not touch.

This module knows nothing of the gateway: it takes URLs, pages and responses.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    Request,
    Response,
    ViewportSize,
    WebSocket,
    sync_playwright,
)

ROOT = Path(__file__).resolve().parents[3]  # libs/testing/lethe_testing/browser.py
CHROMIUM_ENV = "LETHE_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
AXE_JS = ROOT / "tools" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "screenshots"

# The cookies a visitor may get before any consent (TTDSG §25(2): strictly necessary).
SESSION_COOKIE = "lethe_session"
CSRF_COOKIE = "lethe_csrf"
CONSENT_CHOICE_COOKIE = "lethe_consent_choice"  # the visitor's analytics choice itself
NECESSARY_COOKIES = frozenset({SESSION_COOKIE, CSRF_COOKIE, CONSENT_CHOICE_COOKIE})

Viewport = Literal["phone", "desktop"]
VIEWPORTS: dict[str, ViewportSize] = {
    "phone": {"width": 390, "height": 844},
    "desktop": {"width": 1366, "height": 900},
}

# What counts as an analytics request: a known tracker's host anywhere in the address, or
# an analytics path on the gateway itself; beacons (navigator.sendBeacon, <a ping>) too.
ANALYTICS_HOSTS = (
    "google-analytics.com",
    "googletagmanager.com",
    "doubleclick.net",
    "plausible.io",
    "matomo.cloud",
    "hotjar.com",
    "segment.io",
    "facebook.net",
)
ANALYTICS_PATH = re.compile(
    r"/(?:api/v\d+/)?(?:analytics|matomo\.php|piwik\.php|collect|track|beacon)(?:[/?.]|$)"
)
# Schemes that load nothing from a server (the document's own data).
LOCAL_SCHEMES = frozenset({"data", "blob", "about", "javascript"})


def chromium_path() -> str:
    """The Chromium binary Playwright drives: ``$LETHE_CHROMIUM`` or /usr/bin/chromium."""
    path = os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(
            f"no Chromium at {path}: run tools/setup.sh --browser (apt-get install chromium "
            f"chromium-driver) or set {CHROMIUM_ENV}"
        )
    return path


@contextmanager
def launch_chromium(*, headless: bool = True) -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright; closed on leaving.

    Chromium's sandbox stays on, except as root, where Chromium refuses to start with it
    (Playwright then passes ``--no-sandbox``)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            headless=headless,
            chromium_sandbox=os.geteuid() != 0,
        )
        try:
            yield browser
        finally:
            browser.close()


def new_context(
    browser: Browser,
    *,
    javascript: bool = True,
    viewport: Viewport = "desktop",
    locale: str = "de",
    bypass_csp: bool = False,
    **options: Any,
) -> BrowserContext:
    """A fresh browser context (no cookies): JavaScript on or off, a phone or desktop
    viewport, ``locale`` as the browser's language (Accept-Language, ``navigator.language``).
    ``bypass_csp=True`` only for :func:`axe_violations` (see the module's text)."""
    size = VIEWPORTS[viewport]
    return browser.new_context(
        java_script_enabled=javascript,
        viewport=size,
        screen=size,
        is_mobile=viewport == "phone",
        has_touch=viewport == "phone",
        locale=locale,
        bypass_csp=bypass_csp,
        **options,
    )


def origin_of(url: str) -> str:
    """``scheme://host:port`` of ``url``, the port always written out."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(parts.scheme, 0)
    return f"{parts.scheme}://{parts.hostname}:{port}"


def same_origin(url: str, origin: str) -> bool:
    """Whether ``url`` goes to ``origin`` (an address or an origin); ``data:`` and the like
    go nowhere and count as the same origin. A websocket to the same host and port counts
    too (ws: for http:, wss: for https:)."""
    scheme = urlsplit(url).scheme
    if scheme in LOCAL_SCHEMES:
        return True
    target = origin_of(url)
    if scheme in ("ws", "wss"):
        target = target.replace("ws", "http", 1)
    return target == origin_of(origin)


def is_analytics(url: str, resource_type: str = "") -> bool:
    """Whether a request looks like analytics: a known tracker, an analytics path of the
    gateway (:data:`ANALYTICS_PATH`) or a beacon (``resource_type`` "ping")."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if any(host == known or host.endswith("." + known) for known in ANALYTICS_HOSTS):
        return True
    return resource_type == "ping" or bool(ANALYTICS_PATH.search(parts.path))


@dataclass
class Recorded:
    url: str
    method: str
    resource_type: str
    frame_url: str


@dataclass
class PageRecorder:
    """Every request the page and its frames make from now on (navigations, subresources,
    fetches, beacons, websockets), and every Content-Security-Policy violation the
    browser reports in the console. Attach it before ``page.goto``.

    A request that the page's CSP blocks is never sent and so is not recorded: the CSP
    violation is."""

    page: Page
    requests: list[Recorded] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("request", self._on_request)
        self.page.on("websocket", self._on_websocket)
        self.page.on("console", self._on_console)

    def _on_request(self, request: Request) -> None:
        try:
            frame_url = request.frame.url
        except Error:  # a service worker's request has no frame
            frame_url = ""
        self.requests.append(Recorded(request.url, request.method, request.resource_type, frame_url))

    def _on_websocket(self, websocket: WebSocket) -> None:
        self.requests.append(Recorded(websocket.url, "GET", "websocket", self.page.url))

    def _on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.csp_violations.append(message.text)

    @property
    def urls(self) -> list[str]:
        return [request.url for request in self.requests]

    def foreign(self, origin: str) -> list[str]:
        """Every recorded URL that goes elsewhere than ``origin`` (e.g. ``stack.gateway_url``)."""
        return [url for url in self.urls if not same_origin(url, origin)]

    def analytics(self) -> list[str]:
        """Every recorded request that looks like analytics (:func:`is_analytics`)."""
        return [r.url for r in self.requests if is_analytics(r.url, r.resource_type)]


def unnecessary_cookies(context: BrowserContext, allowed: frozenset[str] = NECESSARY_COOKIES) -> list[str]:
    """The context's cookies, of any domain, that are not strictly necessary, as
    ``name (domain)``; empty when there are none."""
    return sorted(
        f"{cookie.get('name', '')} ({cookie.get('domain', '')})"
        for cookie in context.cookies()
        if cookie.get("name") not in allowed
    )


def necessary_cookies_only(context: BrowserContext, allowed: frozenset[str] = NECESSARY_COOKIES) -> bool:
    """Whether the context holds no cookie but :data:`NECESSARY_COOKIES` (``allowed``)."""
    return not unnecessary_cookies(context, allowed)


class AxeUnavailable(RuntimeError):
    """axe-core could not run in the page (not installed, or blocked by the page's CSP)."""


def axe_violations(
    page: Page,
    impacts: Sequence[str] = ("serious", "critical"),
    *,
    selector: str | None = None,
) -> list[str]:
    """Run axe-core in ``page`` (the whole document, or ``selector``) and return its
    violations of the given impacts, one readable line each:
    ``"<impact> <rule id>: <help> (<selector>, ...) <help url>"``; empty when none.

    The page must come from a context made with ``bypass_csp=True`` (see the module's
    text); a blocked injection raises :class:`AxeUnavailable`."""
    if not AXE_JS.exists():
        raise AxeUnavailable(f"{AXE_JS} is missing: run tools/setup.sh --browser (npm ci)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        try:
            page.add_script_tag(content=AXE_JS.read_text(encoding="utf-8"))
        except Error as exc:
            raise AxeUnavailable(
                "the page's Content-Security-Policy blocked axe-core: use a context made with "
                f"new_context(browser, bypass_csp=True) for axe ({exc.message.splitlines()[0]})"
            ) from None
    result: dict[str, Any] = page.evaluate(
        """async (selector) => {
            const results = await window.axe.run(selector ?? document, {resultTypes: ['violations']});
            return {violations: results.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                targets: v.nodes.map(n => n.target.join(' ')),
            }))};
        }""",
        selector,
    )
    return [
        f"{v['impact']} {v['id']}: {v['help']} ({', '.join(v['targets'][:5])}) {v['helpUrl']}"
        for v in result["violations"]
        if v["impact"] in impacts
    ]


# -- security headers -------------------------------------------------------------
KEYWORD_SOURCES = frozenset({"'self'", "'none'", "'strict-dynamic'", "'report-sample'"})
HASH_OR_NONCE = re.compile(r"'(?:nonce-[A-Za-z0-9+/_=-]+|sha(?:256|384|512)-[A-Za-z0-9+/_=-]+)'")
# Directives whose values are source lists (fetch directives and the navigation ones).
SOURCE_LIST_DIRECTIVES = frozenset(
    {
        "default-src", "script-src", "script-src-elem", "script-src-attr", "style-src", "style-src-elem",
        "style-src-attr", "img-src", "font-src", "connect-src", "media-src", "object-src", "frame-src",
        "child-src", "worker-src", "manifest-src", "base-uri", "form-action", "frame-ancestors",
    }
)  # fmt: skip
SCRIPT_STYLE_DIRECTIVES = (
    "default-src", "script-src", "script-src-elem", "script-src-attr", "style-src", "style-src-elem",
    "style-src-attr",
)  # fmt: skip
# data: images and fonts load nothing from elsewhere; nowhere else is a scheme source allowed.
DATA_ALLOWED = frozenset({"img-src", "font-src"})
GOOD_REFERRER_POLICIES = frozenset(
    {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}
)
PERMISSIONS_ITEM = re.compile(r'[a-z][a-z0-9-]*=(?:\*|self|\((?:\s*(?:self|"[^"]*")\s*)*\))')
HSTS_MIN_AGE = 31_536_000  # one year


def parse_csp(policy: str) -> dict[str, list[str]]:
    """A policy's directives, names lower-cased; of a repeated directive the first counts
    (as in browsers)."""
    directives: dict[str, list[str]] = {}
    for part in policy.split(";"):
        tokens = part.split()
        if tokens and tokens[0].lower() not in directives:
            directives[tokens[0].lower()] = tokens[1:]
    return directives


def csp_problems(policy: str) -> list[str]:
    """What makes ``policy`` less than strict: unsafe keywords for scripts or styles,
    framing allowed, plugins allowed, ``<base>`` unrestricted, forms posting anywhere,
    or a source other than the page's own origin ('self', nonces and hashes)."""
    csp = parse_csp(policy)
    problems = []
    if "script-src" not in csp and "default-src" not in csp:
        problems.append("CSP: no script-src and no default-src: scripts from anywhere")
    if "style-src" not in csp and "default-src" not in csp:
        problems.append("CSP: no style-src and no default-src: styles from anywhere")
    for name in SCRIPT_STYLE_DIRECTIVES:
        for source in csp.get(name, []):
            if source.lower().startswith("'unsafe-"):
                problems.append(f"CSP: {name} allows {source}")
    if csp.get("frame-ancestors") != ["'none'"]:
        problems.append(
            f"CSP: frame-ancestors is {' '.join(csp.get('frame-ancestors', ['missing']))}, not 'none'"
        )
    if "object-src" in csp:
        if csp["object-src"] != ["'none'"]:
            problems.append(f"CSP: object-src is {' '.join(csp['object-src'])}, not 'none'")
    elif csp.get("default-src") not in (["'none'"], ["'self'"]):
        problems.append("CSP: no object-src 'none' and default-src is not 'none' or 'self'")
    if csp.get("base-uri") not in (["'none'"], ["'self'"]):
        problems.append("CSP: base-uri missing or not 'none'/'self' (it does not fall back to default-src)")
    if "form-action" not in csp:
        problems.append("CSP: form-action missing (it does not fall back to default-src)")
    for name, sources in csp.items():
        if name not in SOURCE_LIST_DIRECTIVES:
            continue
        for source in sources:
            if source.lower() in KEYWORD_SOURCES or HASH_OR_NONCE.fullmatch(source):
                continue
            if source.lower() == "data:" and name in DATA_ALLOWED:
                continue
            if not source.lower().startswith("'unsafe-"):  # reported above where it matters
                problems.append(f"CSP: {name} allows {source}, another origin than 'self'")
    return problems


def _header_values(response: Response | Mapping[str, str]) -> dict[str, list[str]]:
    if isinstance(response, Response):
        pairs = [(h["name"], h["value"]) for h in response.headers_array()]
    else:
        pairs = list(response.items())
    values: dict[str, list[str]] = {}
    for name, value in pairs:
        values.setdefault(name.lower(), []).append(value)
    return values


def security_header_problems(response: Response | Mapping[str, str], *, tls: bool | None = None) -> list[str]:
    """Every problem with the security headers of ``response`` (a Playwright response, or
    any header mapping), one readable line each; empty when there is none:

    - exactly one Content-Security-Policy, strict (:func:`csp_problems`);
    - Referrer-Policy one of :data:`GOOD_REFERRER_POLICIES`;
    - a Permissions-Policy of well-formed items;
    - ``X-Content-Type-Options: nosniff``;
    - over TLS, Strict-Transport-Security for at least a year (``tls`` defaults to the
      response's URL being https).
    """
    headers = _header_values(response)
    if tls is None:
        tls = isinstance(response, Response) and response.url.startswith("https:")
    problems = []
    policies = headers.get("content-security-policy", [])
    if not policies:
        problems.append("Content-Security-Policy missing")
    elif len(policies) > 1:
        problems.append(f"Content-Security-Policy sent {len(policies)} times: send one policy")
    else:
        problems += csp_problems(policies[0])
    referrer = [v.strip().lower() for value in headers.get("referrer-policy", []) for v in value.split(",")]
    if not referrer:
        problems.append("Referrer-Policy missing")
    elif referrer[-1] not in GOOD_REFERRER_POLICIES:  # the last one the browser knows wins
        problems.append(f"Referrer-Policy {referrer[-1]} sends the full address elsewhere")
    permissions = ",".join(headers.get("permissions-policy", []))
    if not permissions.strip():
        problems.append("Permissions-Policy missing")
    else:
        for item in permissions.split(","):
            if not PERMISSIONS_ITEM.fullmatch(item.strip()):
                problems.append(f"Permissions-Policy item {item.strip()!r} is malformed")
    if [v.strip().lower() for v in headers.get("x-content-type-options", [])] != ["nosniff"]:
        problems.append("X-Content-Type-Options is not nosniff")
    if tls:
        hsts = headers.get("strict-transport-security", [])
        age = re.search(r"max-age=\"?(\d+)", hsts[0], re.IGNORECASE) if hsts else None
        if age is None or int(age.group(1)) < HSTS_MIN_AGE:
            problems.append(f"Strict-Transport-Security missing or max-age below {HSTS_MIN_AGE} over TLS")
    return problems


# -- screenshots ---------------------------------------------------------------------
def viewport_name(page: Page) -> str:
    """The name of the page's viewport: phone or desktop (:data:`VIEWPORTS`), else ``<w>x<h>``."""
    size = page.viewport_size
    for name, known in VIEWPORTS.items():
        if size == known:
            return name
    return f"{size['width']}x{size['height']}" if size else "default"


def screenshot(page: Page, name: str, folder: Path = SCREENSHOTS) -> Path:
    """The whole page as ``<folder>/<name>-<phone|desktop>.png`` (name made file-safe)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "page"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{safe}-{viewport_name(page)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
