"""What the back office's lists share: page size and token from the address, the next
page's token from a route function's answer, links between pages, and the message a form
leaves when it redirects back (303) to its list.

A JSON route function puts the next page's token in its response's ``X-Next-Page-Token``
header (``lethe_gateway.paging``); a page calls it with a response of its own and reads it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from lethe.identity.v1 import identity_pb2 as pb
from lethe_gateway.paging import DEFAULT_LIMIT
from lethe_gateway.web.forms import field
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.outcome import Refused, attempt
from lethe_gateway.web.render import problem

T = TypeVar("T")
MAX_LIMIT = 200
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{0,400}")  # as the JSON API's PageToken
ID_RE = re.compile(r"[a-z]{2,4}_[0-9a-f]{32}")  # as the JSON API's RecordId


def page_limit(text: str) -> int:
    """Items per page: ``?limit=`` (1 to 200), else the JSON API's default."""
    try:
        return min(max(int(text), 1), MAX_LIMIT)
    except ValueError:
        return DEFAULT_LIMIT


def list_href(path: str, **query: str | int) -> str:
    """A page's address; empty values and the default page size are left out."""
    kept = {
        k: v for k, v in query.items() if v not in ("", None) and not (k == "limit" and v == DEFAULT_LIMIT)
    }
    return f"{path}?{urlencode(kept)}" if kept else path


async def listed(call: Callable[[Response], Awaitable[list[T]]]) -> tuple[list[T], str]:
    """A route function's page and the next page's token (from its response headers)."""
    response = Response()
    items = await call(response)
    return items, response.headers.get("X-Next-Page-Token", "")


class Place:
    """Where in a list a page (or the form sent from it) is: its status, page and size."""

    def __init__(self, status: str, token: str, limit: int) -> None:
        self.status = status
        self.token = token if TOKEN_RE.fullmatch(token) else ""
        self.limit = limit

    @classmethod
    def of_form(cls, form: FormData, status: str) -> Place:
        return cls(status, field(form, "page_token"), page_limit(field(form, "limit")))

    def keep(self) -> dict[str, str]:
        """The hidden fields that bring a form back to this place."""
        found = {"page_token": self.token, "limit": str(self.limit) if self.limit != DEFAULT_LIMIT else ""}
        return {k: v for k, v in found.items() if v}

    def href(self, path: str, **more: str) -> str:
        return list_href(path, status=self.status, page_token=self.token, limit=self.limit, **more)


async def list_page(
    request: Request,
    staff: pb.Account,
    path: str,
    place: Place,
    call: Callable[[Response], Awaitable[list[Any]]],
) -> tuple[list[Any], dict[str, Any]] | Response:
    """One page of a list and its paging context, or the page to show instead."""
    t = translator(language(request))
    try:
        items, next_token = await attempt(listed(call), t("error.unavailable"))
    except Refused as no:
        if no.status == 422 and place.token:  # a page token that is not ours: start again
            return RedirectResponse(list_href(path, status=place.status, limit=place.limit), status_code=303)
        return problem(request, staff, no.message, no.status)
    status = place.status
    paging = {
        "next_href": list_href(path, status=status, page_token=next_token, limit=place.limit)
        if next_token
        else "",
        "first_href": list_href(path, status=status, limit=place.limit) if place.token else "",
        "keep": place.keep(),
    }
    return items, paging


def done_message(t: Callable[..., str], prefix: str, done: str, allowed: Sequence[str]) -> str:
    return t(f"{prefix}.done.{done}") if done in allowed else ""
