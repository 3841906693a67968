"""What the privacy centre's pages and the privacy mails' pages share: a page with the
labels and times of requests and receipts in the person's language."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from lethe.identity.v1 import identity_pb2 as pb
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.render import render


def label_in(t: Callable[..., str]) -> Callable[[str, str], str]:
    """A value's name in the person's language (``privacy.<group>.<value>``), else the value."""

    def label(group: str, value: str) -> str:
        key = f"privacy.{group}.{value}"
        text = t(key)
        return value if text == key else text

    return label


def when(value: str | None) -> str:
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return value


def page(
    request: Request, template: str, account: pb.Account | None, status_code: int = 200, **context: Any
) -> Response:
    t = translator(language(request))
    return render(
        request,
        template,
        account=account,
        status_code=status_code,
        label=label_in(t),
        when=when,
        **context,
    )
