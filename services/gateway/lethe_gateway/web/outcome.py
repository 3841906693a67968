"""A route function's refusal as a page shows it: the same table as the JSON API's
(``errors.http_error_of``), the message in the person's language where we have one."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import grpc
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from lethe_gateway.errors import http_error_of

T = TypeVar("T")


class Refused(Exception):
    """What a page tells the person: an HTTP status and a message (already safe to show)."""

    def __init__(
        self, status: int, message: str, fields: dict[str, str] | None = None, *, code: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields or {}
        self.code = code  # the JSON API's error code, e.g. reauthentication_required


async def attempt(call: Awaitable[T], unavailable: str) -> T:
    """Await a route function; its errors become :class:`Refused`."""
    try:
        return await call
    except grpc.aio.AioRpcError as exc:
        status, code, message = http_error_of(exc)
        raise Refused(status, message if status < 500 else unavailable, code=code) from exc
    except HTTPException as exc:
        raise Refused(exc.status_code, str(exc.detail)) from exc


def field_errors(exc: ValidationError, messages: dict[str, str], default: str) -> dict[str, str]:
    """Which form fields a body model refused, each with a message for a person."""
    found: dict[str, str] = {}
    for problem in exc.errors():
        name = str(problem["loc"][0]) if problem.get("loc") else ""
        found.setdefault(name, messages.get(name, default))
    return found
