"""The OpenAPI document the gateway serves is valid and every reference in it resolves
(issue 13: two newsletter routes pointed at a schema the document did not hold)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import httpx
from openapi_spec_validator import validate


def _refs(node: Any, where: str = "#") -> Iterator[tuple[str, str]]:
    """Every ``$ref`` in the document: where it is and what it points at."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield where, value
            else:
                yield from _refs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _refs(value, f"{where}/{index}")


def _resolves(document: dict[str, Any], ref: str) -> bool:
    """A JSON pointer into the document itself (RFC 6901); anything else does not resolve:
    the gateway's document has to stand on its own."""
    if not ref.startswith("#"):
        return False
    node: Any = document
    for raw in unquote(ref[1:]).split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    return True


def problems_of(document: dict[str, Any]) -> list[str]:
    """What is wrong with an OpenAPI document: what the validator finds, and every ``$ref``
    that points nowhere (the validator does not follow every one, e.g. in request bodies
    added through ``openapi_extra``)."""
    problems = []
    try:
        validate(document)
    except Exception as exc:  # invalid, or a reference the validator could not follow
        problems.append(f"not valid OpenAPI: {type(exc).__name__}: {str(exc)[:500]}")
    problems += [
        f"{where}: $ref {ref} points nowhere"
        for where, ref in _refs(document)
        if not _resolves(document, ref)
    ]
    return problems


def _served(url: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/api/v1/openapi.json", timeout=10)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def test_the_served_document_is_valid_openapi_and_every_ref_resolves(gateway_url: str) -> None:
    document = _served(gateway_url)
    assert document["openapi"].startswith("3.1")
    assert problems_of(document) == []
    assert len(list(_refs(document))) > 50  # the check did look at the document's references


def test_the_link_routes_document_their_json_body(gateway_url: str) -> None:
    paths = _served(gateway_url)["paths"]
    for path in ("/api/v1/newsletter/confirm", "/api/v1/newsletter/unsubscribe"):
        schema = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert schema["required"] == ["token"], path
        assert schema["properties"]["token"]["type"] == "string", path


def test_a_reference_that_points_nowhere_is_a_problem(gateway_url: str) -> None:
    document = _served(gateway_url)
    broken = copy.deepcopy(document)
    body = broken["paths"]["/api/v1/newsletter/confirm"]["post"]["requestBody"]
    body["content"]["application/json"]["schema"] = {"$ref": "#/components/schemas/LinkTokenBody"}
    assert problems_of(broken) == [
        "#/paths//api/v1/newsletter/confirm/post/requestBody/content/application/json/schema: "
        "$ref #/components/schemas/LinkTokenBody points nowhere"
    ]
    elsewhere = copy.deepcopy(document)
    elsewhere["components"]["schemas"]["AccountOut"]["properties"]["roles"] = {
        "$ref": "#/components/schemas/Nothing~1Here"
    }
    assert (
        "#/components/schemas/AccountOut/properties/roles: "
        "$ref #/components/schemas/Nothing~1Here points nowhere"
    ) in problems_of(elsewhere)


def test_a_document_that_is_no_openapi_is_a_problem(gateway_url: str) -> None:
    document = _served(gateway_url)
    del document["info"]
    assert [p for p in problems_of(document) if p.startswith("not valid OpenAPI")]


def _error_statuses(operation: dict[str, Any]) -> set[int]:
    return {int(status) for status in operation["responses"] if int(status) >= 400}


def test_every_error_response_is_the_gateways_envelope(gateway_url: str) -> None:
    document = _served(gateway_url)
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["Error"]["required"] == ["error"]
    assert schemas["Error"]["properties"]["error"]["required"] == ["code", "message"]
    operations = [
        (path, method, op) for path, item in document["paths"].items() for method, op in item.items()
    ]
    assert len(operations) > 40
    for path, method, operation in operations:
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (path, method, status)


def test_error_statuses_follow_what_each_route_checks(gateway_url: str) -> None:
    paths = _served(gateway_url)["paths"]
    # a logged-in write with a body: session, CSRF, body limit, validation
    assert _error_statuses(paths["/api/v1/orders"]["post"]) >= {401, 403, 413, 422, 503}
    # a logged-in read: a session, no CSRF, no body
    me = _error_statuses(paths["/api/v1/me"]["get"])
    assert 401 in me and 403 not in me and 413 not in me
    # staff only
    staff = paths["/api/v1/admin/privacy-requests"]["get"]
    assert {401, 403} <= _error_statuses(staff)
    assert "admin" in staff["responses"]["403"]["description"]
    # log-out needs the session cookie alone: no CSRF refusal
    assert 403 not in _error_statuses(paths["/api/v1/session"]["delete"])
    # erasure and a new e-mail address: the CSRF header, or the password asked again
    for path, method in (("/api/v1/me/erasure", "post"), ("/api/v1/me", "patch")):
        description = paths[path][method]["responses"]["403"]["description"]
        assert "X-CSRF-Token" in description and "reauthentication_required" in description
    # the link's token is its credential: no session, but a body
    link = _error_statuses(paths["/api/v1/newsletter/confirm"]["post"])
    assert 401 not in link and {413, 422} <= link
