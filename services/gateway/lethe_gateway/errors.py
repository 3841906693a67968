"""Errors as web clients see them: ``{"error": {"code", "message"}}``.

The one table that turns the services' gRPC status codes into HTTP statuses
lives here. No stack trace and no personal data ever reach a response.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)

HTTP_STATUS_OF_GRPC: dict[grpc.StatusCode, tuple[int, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (422, "invalid_argument"),
    grpc.StatusCode.OUT_OF_RANGE: (422, "out_of_range"),
    grpc.StatusCode.NOT_FOUND: (404, "not_found"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "already_exists"),
    grpc.StatusCode.ABORTED: (409, "conflict"),
    grpc.StatusCode.FAILED_PRECONDITION: (409, "failed_precondition"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "forbidden"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "unauthenticated"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "too_many_requests"),
    grpc.StatusCode.UNIMPLEMENTED: (501, "not_implemented"),
    grpc.StatusCode.UNAVAILABLE: (503, "unavailable"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, "timeout"),
}
# Domain errors whose reason (the ``reason`` trailer) needs a status of its own.
HTTP_STATUS_OF_REASON: dict[str, tuple[int, str]] = {
    "payment_declined": (402, "payment_declined"),
    "idempotency_key_reused": (409, "idempotency_key_reused"),
    "link_expired": (410, "link_expired"),
    # Step-up: enter the password again (POST /api/v1/session/password-check), then retry.
    "reauthentication_required": (403, "reauthentication_required"),
}
HTTP_CODE_NAMES = {
    400: "bad_request",
    401: "unauthenticated",
    402: "payment_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid_request",
    429: "too_many_requests",
    503: "unavailable",
}


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


# What a field of the wrong JSON type should have been (request bodies are strict:
# schemas.py), said the way a person writing JSON thinks of it.
EXPECTED_JSON_TYPE = {
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


def _json_type(value: object) -> str:
    """What was sent instead, by its JSON type only: the value may be personal data."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number with a decimal point"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def _problem(problem: Mapping[str, Any]) -> str:
    expected = EXPECTED_JSON_TYPE.get(problem.get("type", ""))
    if expected is None:
        return str(problem.get("msg", "invalid"))
    return f"must be {expected}, not {_json_type(problem.get('input'))}"


def _field_problems(exc: RequestValidationError) -> str:
    parts = []
    for problem in exc.errors():
        loc = tuple(problem.get("loc", ()))
        where = ".".join(str(p) for p in (loc[1:] if loc[:1] == ("body",) else loc))
        if where:
            parts.append(f"{where}: {_problem(problem)}")
        elif problem.get("type") in EXPECTED_JSON_TYPE:
            parts.append(f"the request body {_problem(problem)}")
        else:
            parts.append(str(problem.get("msg", "")))
    return "; ".join(parts) or "the request is not valid"


def _trailer(exc: grpc.aio.AioRpcError, name: str) -> str:
    for key, value in exc.trailing_metadata() or ():
        if key == name:
            return str(value)
    return ""


def _retry_after(exc: grpc.aio.AioRpcError) -> dict[str, str] | None:
    """A limit's ``retry-after`` trailer as the HTTP header of the same name."""
    value = _trailer(exc, "retry-after")
    return {"Retry-After": value} if value.isdigit() else None


def http_error_of(exc: grpc.aio.AioRpcError) -> tuple[int, str, str]:
    """A failed backend call as the web client sees it: status, code, message."""
    status, code = HTTP_STATUS_OF_REASON.get(_trailer(exc, "reason")) or HTTP_STATUS_OF_GRPC.get(
        exc.code(), (500, "internal")
    )
    # 4xx and 501 details are our domain errors' messages; 5xx details may be
    # gRPC transport text with internal addresses, so they stay in the log.
    shown = status < 500 or status == 501
    message = (exc.details() or "") if shown else ""
    if status >= 500:
        log.warning("backend call failed", extra={"grpc_code": exc.code().name})
    return status, code, message or "the service could not answer"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(grpc.aio.AioRpcError)
    async def grpc_error(_: Request, exc: grpc.aio.AioRpcError) -> JSONResponse:
        status, code, message = http_error_of(exc)
        return JSONResponse(error_body(code, message), status_code=status, headers=_retry_after(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        if any(problem.get("type") == "json_invalid" for problem in exc.errors()):
            return JSONResponse(
                error_body("bad_request", "the request body is not valid JSON"), status_code=400
            )
        return JSONResponse(error_body("invalid_request", _field_problems(exc)), status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        code = HTTP_CODE_NAMES.get(exc.status_code, "error")
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(UnicodeEncodeError)
    async def unencodable(_: Request, exc: UnicodeEncodeError) -> JSONResponse:
        # A JSON string may hold a lone surrogate ("\ud800"), which is no text.
        return JSONResponse(
            error_body("invalid_request", "the request holds characters that are not valid text"),
            status_code=422,
        )

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", extra={"error": type(exc).__name__})
        return JSONResponse(error_body("internal", "something went wrong on our side"), status_code=500)
