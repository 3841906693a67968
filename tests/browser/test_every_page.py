"""Every main page of the portal (``lethe_testing.pages``), for a visitor and for a logged-in
person with the admin role, in a real Chromium: the security headers, no request to another
origin, no analytics request, no CSP violation, and no serious or critical axe violation,
in English and German at desktop and phone width."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright._impl._api_structures import SetCookieParam
from playwright.sync_api import Browser, BrowserContext

from lethe_testing import Stack, start_stack, stop_stack, unique
from lethe_testing.browser import PageRecorder, axe_violations, new_context, security_header_problems
from lethe_testing.pages import ACCOUNT_PAGES, PUBLIC_PAGES, first_product, session_cookies

PASSWORD = "a long passphrase for every page"
CHECKS = (("desktop", "en"), ("phone", "de"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run = unique("pages")
    running = start_stack(
        run, tmp_path_factory.mktemp("logs"), IDENTITY_ADMIN_EMAILS=f"staff-{run}@staff.example"
    )
    yield running
    stop_stack(running)


@pytest.fixture(scope="module")
def paths(stack: Stack) -> dict[str, str]:
    product = first_product(stack.gateway_url)
    return {name: path.format(product=product) for name, path in {**PUBLIC_PAGES, **ACCOUNT_PAGES}.items()}


@pytest.fixture(scope="module")
def cookies(stack: Stack) -> list[SetCookieParam]:
    return session_cookies(stack.gateway_url, f"staff-{stack.run_id}@staff.example", PASSWORD)


def _context(chromium: Browser, name: str, cookies: list[SetCookieParam], **options: Any) -> BrowserContext:
    context = new_context(chromium, **options)
    if name in ACCOUNT_PAGES:
        context.add_cookies(cookies)
    return context


def test_every_page_has_the_headers_and_asks_nothing_of_another_origin(
    chromium: Browser, stack: Stack, paths: dict[str, str], cookies: list[SetCookieParam]
) -> None:
    problems: list[str] = []
    for name, path in paths.items():
        context = _context(chromium, name, cookies, locale="en")
        page = context.new_page()
        recorder = PageRecorder(page)
        response = page.goto(stack.gateway_url + path)
        assert response is not None and response.status < 500, (name, path)
        if name in ACCOUNT_PAGES:
            assert "/login" not in page.url, f"{name}: the session was not taken"
        problems += [f"{name}: {p}" for p in security_header_problems(response)]
        problems += [f"{name}: request to another origin {u}" for u in recorder.foreign(stack.gateway_url)]
        problems += [f"{name}: analytics request {u}" for u in recorder.analytics()]
        problems += [f"{name}: CSP violation {v}" for v in recorder.csp_violations]
        context.close()
    assert problems == []


def test_axe_finds_no_serious_or_critical_violation_on_any_page(
    chromium: Browser, stack: Stack, paths: dict[str, str], cookies: list[SetCookieParam]
) -> None:
    found: list[str] = []
    for viewport, locale in CHECKS:
        for name, path in paths.items():
            context = _context(chromium, name, cookies, bypass_csp=True, viewport=viewport, locale=locale)
            page = context.new_page()
            page.goto(stack.gateway_url + path)
            found += [f"{viewport} {locale} {name}: {v}" for v in axe_violations(page)]
            context.close()
    assert found == []
