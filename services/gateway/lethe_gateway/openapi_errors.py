"""The error responses of the OpenAPI document, as the gateway really sends them.

FastAPI describes every 422 in its own validation format and knows nothing of the
gateway's error envelope (errors.py), its body limit (body_limit.py) or its session
checks (auth.py, deps.py). This rewrites each operation's error responses from what its
route depends on, so a client generated from the document expects what it will get.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from lethe_gateway.auth import needs_csrf, session_account
from lethe_gateway.deps import StaffWith, require_account, require_portal_access

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "stable, for programs: e.g. invalid_request"},
                "message": {"type": "string", "description": "for people; never holds personal data"},
            },
        }
    },
}


def install_openapi(app: FastAPI) -> None:
    """Serve the document with the gateway's own error responses."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes)
            describe_errors(document, app.routes)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def describe_errors(document: dict[str, Any], routes: Sequence[BaseRoute]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for fastapi_own in ("HTTPValidationError", "ValidationError"):
        schemas.pop(fastapi_own, None)
    schemas["Error"] = ERROR_SCHEMA
    for context in routing.iter_route_contexts(routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        route: Any = context  # an included route, with its routers' dependencies and prefix
        if not route.include_in_schema:
            continue
        calls = set(_calls(route.dependant))
        for method in route.methods or ():
            operation = document["paths"].get(route.path_format, {}).get(method.lower())
            if operation is not None:
                responses = operation.setdefault("responses", {})
                for status, response in responses.items():  # a route's own: the envelope too
                    if status.isdigit() and int(status) >= 400:
                        response["content"] = {"application/json": {"schema": ERROR_REF}}
                for status, meaning in errors_of(method, calls, operation, route.path_format):
                    own = responses.get(str(status), {}).get("description", "")
                    if status == 403 and own and own != meaning:  # both: e.g. CSRF and step-up
                        meaning = f"{meaning}; or {own}"
                    responses[str(status)] = {
                        "description": meaning,
                        "content": {"application/json": {"schema": ERROR_REF}},
                    }


def errors_of(
    method: str, calls: set[Callable[..., Any]], operation: dict[str, Any], path: str = ""
) -> Iterator[tuple[int, str]]:
    """The error statuses an operation can answer with, and what each means."""
    if require_account in calls:
        yield 401, "not logged in (no valid session)"
    staff = next((c for c in calls if isinstance(c, StaffWith)), None)
    if staff is not None:
        yield 403, f"this needs the {' or '.join(staff.roles)} role (admin holds every role)"
    elif require_portal_access in calls:
        yield 403, "this needs approved portal access"
    elif session_account in calls and needs_csrf(method, path):
        yield 403, "a logged-in request without the X-CSRF-Token header of its lethe_csrf cookie"
    if "requestBody" in operation:
        yield 413, "the request body is larger than this route accepts"
    if "requestBody" in operation or operation.get("parameters") or "422" in operation["responses"]:
        yield 422, "the request is not valid: a field is missing, of the wrong type or out of range"
    yield 503, "a service behind the gateway is not available; try again shortly"


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)
