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

from lethe_testing import start_stack, stop_stack, unique
from lethe_testing.browser import SCREENSHOTS, Viewport, launch_chromium, new_context, screenshot

# name -> path on the gateway: one screenshot pair each. Add every main page of the portal here.
MAIN_PAGES: dict[str, str] = {
    # a newsletter mail's confirmation link (the token is checked only when the form posts)
    "newsletter-confirm": "/api/v1/newsletter/confirm?token=example-token",
    # the answer to a link that lost its token
    "newsletter-incomplete-link": "/api/v1/newsletter/unsubscribe",
}
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
    stack = start_stack(unique("shots"), log_dir, LETHE_LOG_LEVEL="WARNING")
    failed = 0
    try:
        with launch_chromium() as browser:
            for viewport in VIEWPORTS:
                context = new_context(browser, viewport=viewport)
                page = context.new_page()
                for name, path in chosen.items():
                    response = page.goto(stack.gateway_url + path)
                    status = response.status if response is not None else 0
                    if status == 0 or status >= 500:
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
