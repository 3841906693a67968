"""Screenshots of the portal's main pages at phone and desktop width, into var/screenshots/.

    make screenshots
    .venv/bin/python tools/stack.py run -- .venv/bin/python tools/screenshots.py [NAME ...]

Starts the whole system (every backend and a gateway on free ports, as the tests do:
``lethe_testing.start_stack``) on the store and broker that ``tools/stack.py run``
provides, opens every page of :data:`MAIN_PAGES` (or only the NAMEs given) in Debian's
Chromium at 390x844 (phone) and 1366x900 (desktop), and saves the whole page as
``var/screenshots/<name>-<phone|desktop>.png``. Exits 1 if a page does not load or
answers with a server error.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import httpx
from playwright._impl._api_structures import SetCookieParam

from lethe_testing import start_stack, stop_stack, unique
from lethe_testing.browser import SCREENSHOTS, Viewport, launch_chromium, new_context, screenshot
from lethe_testing.web import Browser

# name -> path on the gateway: one screenshot pair each. Add every main page of the portal here.
PUBLIC_PAGES: dict[str, str] = {
    "home": "/",
    "product": "/products/{product}",
    "register": "/register",
    "verify-email": "/verify-email?token=example-token",
    "login": "/login",
    "forgot-password": "/forgot-password",
    "reset-password": "/reset-password?token=example-token",
    "cookies": "/cookies",
    "privacy-notice": "/privacy-notice",
    "imprint": "/imprint",
    "contact": "/contact",
    "newsletter": "/newsletter",
    "newsletter-confirm": "/newsletter/confirm?token=example-token",
    # the answer to a link that lost its token
    "newsletter-incomplete-link": "/api/v1/newsletter/unsubscribe",
}
# Shown to a person who is logged in (a new account, with the admin role for the staff page).
ACCOUNT_PAGES: dict[str, str] = {
    "account": "/account",
    "password-change": "/account/password",
    "cart": "/cart",
    "orders": "/orders",
    "downloads": "/downloads",
    "privacy-centre": "/privacy",
    "privacy-consents": "/privacy/consents",
    "privacy-erase": "/privacy/erase",
    "privacy-restriction": "/privacy/restriction",
    "privacy-objection": "/privacy/objection",
    "privacy-requests": "/privacy/requests",
    "staff-traffic": "/staff/traffic",
}
MAIN_PAGES = {**PUBLIC_PAGES, **ACCOUNT_PAGES}
PASSWORD = "a long passphrase for screenshots"  # noqa: S105 - a throwaway stack's person
VIEWPORTS: tuple[Viewport, ...] = ("phone", "desktop")


def _logged_in_cookies(gateway_url: str, email: str) -> list[SetCookieParam]:
    """A new person signed up and logged in through the JSON API (the mail from the sink's
    Maildir): their session and CSRF cookies, for the browser."""
    person = Browser(gateway_url)
    try:
        person.sign_up(email, PASSWORD, name="Screen Shot")
        return [
            {"name": cookie.name, "value": cookie.value or "", "url": gateway_url}
            for cookie in person.http.cookies.jar
        ]
    finally:
        person.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", help=f"only these of {', '.join(MAIN_PAGES)}")
    parser.add_argument("--out", type=Path, default=SCREENSHOTS, help="folder (default var/screenshots)")
    args = parser.parse_args()
    if unknown := [name for name in args.names if name not in MAIN_PAGES]:
        parser.error(f"no such page: {', '.join(unknown)}")
    chosen = {name: MAIN_PAGES[name] for name in args.names} if args.names else MAIN_PAGES
    log_dir = Path(tempfile.mkdtemp(prefix="lethe-screenshots-"))
    run = unique("shots")
    staff = f"shots-{run}@staff.example"
    stack = start_stack(run, log_dir, LETHE_LOG_LEVEL="WARNING", IDENTITY_ADMIN_EMAILS=staff)
    failed = 0
    try:
        cookies = _logged_in_cookies(stack.gateway_url, staff)
        product = httpx.get(f"{stack.gateway_url}/api/v1/products").json()[0]["id"]
        with launch_chromium() as browser:
            for viewport in VIEWPORTS:
                context = new_context(browser, viewport=viewport)
                page = context.new_page()
                for name, path in chosen.items():
                    context.clear_cookies()
                    if name in ACCOUNT_PAGES:
                        context.add_cookies(cookies)
                    address = stack.gateway_url + path.format(product=product)
                    response = page.goto(address)
                    status = response.status if response is not None else 0
                    if status == 0 or status >= 500 or (name in ACCOUNT_PAGES and "/login" in page.url):
                        print(f"{name} ({path}): no page, status {status}", file=sys.stderr)
                        failed += 1
                        continue
                    saved = screenshot(page, name, folder=args.out)
                    print(f"{saved} ({path}: {status})")
                context.close()
    finally:
        stop_stack(stack)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
