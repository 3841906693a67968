"""The gateway's error envelope, its gRPC-to-HTTP table, probes and metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from pydantic import BaseModel

from lethe_gateway.app import create_app
from lethe_gateway.config import GatewayConfig
from lethe_testing import BACKENDS, free_port

DETAILS = "backend says: the thing is not right"


class Signup(BaseModel):
    name: str
    count: int


def _grpc_failure(code: grpc.StatusCode):
    async def fail() -> None:
        raise grpc.aio.AioRpcError(
            code, initial_metadata=grpc.aio.Metadata(), trailing_metadata=grpc.aio.Metadata(), details=DETAILS
        )

    return fail


async def _crash() -> None:
    raise RuntimeError("secret alice@example.com")


async def _signup(body: Signup) -> dict[str, str]:
    return {"name": body.name}


def _app() -> FastAPI:
    config = GatewayConfig(
        host="127.0.0.1",
        port=free_port(),
        log_level="INFO",
        backends={name: f"127.0.0.1:{free_port()}" for name in BACKENDS},
        health_timeout_seconds=1.0,
        rpc_timeout_seconds=1.0,
        cookie_secure="auto",
        session_cache_seconds=0.0,
    )
    app = create_app(config)
    for code in grpc.StatusCode:
        app.add_api_route(f"/test/grpc/{code.name.lower()}", _grpc_failure(code))
    app.add_api_route("/test/crash", _crash)
    app.add_api_route("/test/signup", _signup, methods=["POST"])
    return app


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(_app(), raise_server_exceptions=False) as client:
        yield client


def _requests_total(method: str, route: str, status: int) -> float:
    value = REGISTRY.get_sample_value(
        "lethe_http_requests_total", {"method": method, "route": route, "status": str(status)}
    )
    return value or 0.0


def test_readyz_is_503_with_every_backend_unreachable(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unready", "backends": {name: "UNREACHABLE" for name in BACKENDS}}


def test_healthz_answers_without_backends(client: TestClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_unknown_path_is_404_in_the_error_envelope(client: TestClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "not_found"
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def test_wrong_method_is_405_in_the_error_envelope(client: TestClient) -> None:
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_openapi_document_is_served_under_api_v1(client: TestClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.text)
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Lethe API"


def test_docs_pages_are_not_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/healthz")
    text = client.get("/metrics").text
    assert 'lethe_http_requests_total{method="GET",route="/healthz",status="200"}' in text


def test_unmatched_paths_share_one_metrics_label(client: TestClient) -> None:
    before = _requests_total("GET", "unmatched", 404)
    client.get("/api/v1/people/alice@example.com")
    assert _requests_total("GET", "unmatched", 404) == before + 1
    assert "alice@example.com" not in client.get("/metrics").text


@pytest.mark.parametrize(
    ("code", "status", "name"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 422, "invalid_argument"),
        (grpc.StatusCode.OUT_OF_RANGE, 422, "out_of_range"),
        (grpc.StatusCode.NOT_FOUND, 404, "not_found"),
        (grpc.StatusCode.ALREADY_EXISTS, 409, "already_exists"),
        (grpc.StatusCode.ABORTED, 409, "conflict"),
        (grpc.StatusCode.FAILED_PRECONDITION, 409, "failed_precondition"),
        (grpc.StatusCode.PERMISSION_DENIED, 403, "forbidden"),
        (grpc.StatusCode.UNAUTHENTICATED, 401, "unauthenticated"),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429, "too_many_requests"),
        (grpc.StatusCode.UNIMPLEMENTED, 501, "not_implemented"),
    ],
)
def test_grpc_status_becomes_http_status_with_the_backend_message(
    client: TestClient, code: grpc.StatusCode, status: int, name: str
) -> None:
    response = client.get(f"/test/grpc/{code.name.lower()}")
    assert response.status_code == status
    assert response.json() == {"error": {"code": name, "message": DETAILS}}


@pytest.mark.parametrize(
    ("code", "status", "name"),
    [
        (grpc.StatusCode.INTERNAL, 500, "internal"),
        (grpc.StatusCode.UNKNOWN, 500, "internal"),
        (grpc.StatusCode.DATA_LOSS, 500, "internal"),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504, "timeout"),
        # UNAVAILABLE details are gRPC transport text naming internal addresses.
        (grpc.StatusCode.UNAVAILABLE, 503, "unavailable"),
    ],
)
def test_server_side_grpc_failures_do_not_leak_their_details(
    client: TestClient, code: grpc.StatusCode, status: int, name: str
) -> None:
    response = client.get(f"/test/grpc/{code.name.lower()}")
    assert response.status_code == status
    assert response.json() == {"error": {"code": name, "message": "the service could not answer"}}


def test_unexpected_exception_is_a_generic_500(client: TestClient) -> None:
    response = client.get("/test/crash")
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal", "message": "something went wrong on our side"}}


def test_unexpected_exception_is_counted_as_a_500(client: TestClient) -> None:
    before = _requests_total("GET", "/test/crash", 500)
    client.get("/test/crash")
    assert _requests_total("GET", "/test/crash", 500) == before + 1


def test_invalid_body_is_422_naming_the_field(client: TestClient) -> None:
    response = client.post("/test/signup", json={"name": "x", "count": "many"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"].startswith("count: ")


def test_missing_field_is_422_naming_the_field(client: TestClient) -> None:
    response = client.post("/test/signup", json={"count": 1})
    assert response.status_code == 422
    assert response.json()["error"] == {"code": "invalid_request", "message": "name: Field required"}


def test_malformed_json_is_400_bad_request(client: TestClient) -> None:
    response = client.post("/test/signup", content=b'{"name": ', headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "bad_request",
        "message": "the request body is not valid JSON",
    }


def test_a_limit_answers_429_with_retry_after_from_the_grpc_trailer() -> None:
    app = _app()

    async def limited() -> None:
        raise grpc.aio.AioRpcError(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            initial_metadata=grpc.aio.Metadata(),
            trailing_metadata=grpc.aio.Metadata(("retry-after", "42")),
            details="slow down",
        )

    app.add_api_route("/test/limited", limited)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/test/limited")
    assert (response.status_code, response.headers.get("retry-after")) == (429, "42")
    assert response.json()["error"] == {"code": "too_many_requests", "message": "slow down"}


def test_valid_body_reaches_the_route(client: TestClient) -> None:
    response = client.post("/test/signup", json={"name": "x", "count": 2})
    assert (response.status_code, response.json()) == (200, {"name": "x"})
