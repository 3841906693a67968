"""The few HTML pages the gateway serves itself: what a link in a mail opens.

They hold no script and load nothing; every value shown is escaped. The
token is in the address, so the pages forbid referrers and caching.
"""

from __future__ import annotations

import html

from fastapi.responses import HTMLResponse

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": (
        "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def page(
    title: str, paragraphs: list[str], *, form_action: str = "", button: str = "", status_code: int = 200
) -> HTMLResponse:
    body = "".join(f"<p>{html.escape(text)}</p>\n" for text in paragraphs)
    if form_action:
        body += (
            f'<form method="post" action="{html.escape(form_action, quote=True)}">\n'
            '<input type="hidden" name="List-Unsubscribe" value="One-Click">\n'
            f'<button type="submit">{html.escape(button)}</button>\n</form>\n'
        )
    document = (
        '<!doctype html>\n<html lang="de"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head>\n"
        f"<body>\n<h1>{html.escape(title)}</h1>\n{body}</body></html>\n"
    )
    return HTMLResponse(document, status_code=status_code, headers=PAGE_HEADERS)
