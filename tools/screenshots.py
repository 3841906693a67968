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

from lethe_testing import pages, start_stack, stop_stack, unique
from lethe_testing.browser import SCREENSHOTS, Viewport, launch_chromium, new_context, screenshot

# The pages of lethe_testing.pages, and the answer to a link that lost its token.
PUBLIC_PAGES = {**pages.PUBLIC_PAGES, "newsletter-incomplete-link": "/api/v1/newsletter/unsubscribe"}
ACCOUNT_PAGES = pages.ACCOUNT_PAGES
MAIN_PAGES = {**PUBLIC_PAGES, **ACCOUNT_PAGES}
PASSWORD = "a long passphrase for screenshots"  # noqa: S105 - a throwaway stack's person
VIEWPORTS: tuple[Viewport, ...] = ("phone", "desktop")


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
        cookies = pages.session_cookies(stack.gateway_url, staff, PASSWORD)
        product = pages.first_product(stack.gateway_url)
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
