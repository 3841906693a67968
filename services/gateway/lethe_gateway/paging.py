"""Staff lists come in pages: ``?limit=`` and ``?page_token=`` in, a ``Link`` header out.

The body stays the list it always was; the next page's address travels in an RFC 8288
``Link: <...>; rel="next"`` header (and as ``X-Next-Page-Token``), absent on the last page.
Page tokens are opaque: the service that made one is the only one that reads it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

PageLimit = Annotated[int, Query(ge=1, le=200, description="items per page (at most 200)")]
PageToken = Annotated[
    str,
    Query(
        max_length=400,
        pattern=r"^[A-Za-z0-9_-]*$",
        description="the token of the page to read, from the last "
        "page's Link header; empty for the first page",
    ),
]
DEFAULT_LIMIT = 50


def link_next_page(request: Request, response: Response, next_token: str) -> None:
    """Point the client at the next page, if there is one."""
    if not next_token:
        return
    url = request.url.include_query_params(page_token=next_token)
    response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
    response.headers["X-Next-Page-Token"] = next_token
