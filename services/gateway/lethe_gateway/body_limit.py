"""Request bodies over a limit are refused with 413 before they are read.

The limit is ``LETHE_GATEWAY_MAX_BODY_BYTES`` (64 KiB) unless the path has one of its own
(``lethe_gateway.routes.body_limits``: the payment provider's notifications, staff's
campaigns and consent texts). A ``Content-Length`` over the limit is answered at once and
the body is never received (nor is a ``100 Continue`` sent for it); a body without one
(chunked) is counted while it streams and refused as soon as it passes the limit. Either
way the answer is the usual error envelope, with ``Connection: close`` so that the
server stops taking the rest.

A plain ASGI middleware, like :class:`lethe_gateway.app.ObserveMiddleware`. When the limit
is passed mid-stream it answers itself, and the application, which asked for more of the
body, is told that the client has gone (``http.disconnect``); whatever the application
sends or raises after that is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lethe_gateway.errors import HTTP_CODE_NAMES, error_body


@dataclass(frozen=True)
class BodyLimit:
    max_bytes: int
    message: str = ""

    def text(self) -> str:
        return self.message or (
            f"the request body is too large: this address takes at most {self.max_bytes} bytes"
        )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None  # the server refuses a bad one
    return None


class BodyLimitMiddleware:
    def __init__(
        self, app: ASGIApp, default: BodyLimit, paths: Mapping[str, BodyLimit] | None = None
    ) -> None:
        self.app = app
        self.default = default
        self.paths = dict(paths or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.paths.get(scope["path"], self.default)
        declared = _content_length(scope)
        if declared is not None and declared > limit.max_bytes:
            await self._refuse(scope, receive, send, limit)  # receive is never called
            return

        received = 0
        started = refused = answered = False

        async def receiving() -> Message:
            nonlocal received, refused, answered
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.max_bytes:
                    refused = True
                    if not started:
                        await self._refuse(scope, receive, send, limit)
                        answered = True
                    return {"type": "http.disconnect"}
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the client has its 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receiving, sending)
        except Exception:
            if not answered:
                raise
            # The application failed on the body it was told was cut off; the client has
            # its 413 already, and nothing is wrong on our side.

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: BodyLimit) -> None:
        response = JSONResponse(
            error_body(HTTP_CODE_NAMES[413], limit.text()), status_code=413, headers={"Connection": "close"}
        )
        await response(scope, receive, send)
