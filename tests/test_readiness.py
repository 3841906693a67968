"""Every process starts and says whether it is ready; the gateway's /readyz follows the backends."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import replace

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lethe_testing import Stack, http_status, remove_backend, start_backend, unique, wait_for

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def readyz(stack: Stack) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"{stack.gateway_url}/readyz", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def health(addr: str, service: str = "") -> int:
    with grpc.insecure_channel(addr) as channel:
        return int(
            health_pb2_grpc.HealthStub(channel)
            .Check(health_pb2.HealthCheckRequest(service=service), timeout=3)
            .status
        )


def test_every_service_and_the_gateway_report_ready(stack: Stack) -> None:
    status, body = readyz(stack)

    assert status == 200
    assert body["backends"] == {name: "SERVING" for name in stack.backends}
    for name, backend in stack.backends.items():
        assert len(backend.apis) == len(backend.workers) == 2, "every test runs replicas"
        for port in backend.grpc_ports:
            assert health(f"127.0.0.1:{port}") == SERVING
            assert health(f"127.0.0.1:{port}", f"lethe.{name}.v1.{name.capitalize()}Service") == SERVING
        for worker in backend.workers:
            assert http_status(worker.ready_url) == 200


def test_one_replica_down_changes_nothing_for_clients(stack: Stack) -> None:
    """Calls go round-robin to the replicas that serve: one stopped, the others take all."""
    identity = stack.backends["identity"]
    identity.api.stop()
    try:
        for _ in range(6):
            with urllib.request.urlopen(f"{stack.gateway_url}/api/v1/consent-texts", timeout=5) as r:
                assert r.status == 200
        assert readyz(stack)[0] == 200
    finally:
        identity.api = replace(identity.api).start()
        identity.api.wait_ready()


def test_readyz_turns_unready_when_a_backend_stops_and_ready_when_it_returns(stack: Stack) -> None:
    identity = stack.backends["identity"]
    identity.stop_apis()

    _, body = wait_for(lambda: (r := readyz(stack))[0] == 503 and r, what="/readyz to turn 503")
    assert body["backends"]["identity"] in ("UNREACHABLE", "UNAVAILABLE")  # type: ignore[index]
    assert body["backends"]["consent"] == "SERVING"  # type: ignore[index]

    identity.restart_apis()
    wait_for(lambda: readyz(stack)[0] == 200, what="/readyz to turn 200 again")


def test_an_api_is_not_serving_while_its_store_does_not_answer(stack: Stack, log_dir) -> None:
    lonely = start_backend(
        "shop",
        unique("nostore"),
        log_dir,
        start_worker=False,
        replicas=1,
        LETHE_MONGO_URL="mongodb://127.0.0.1:1/",
    )
    try:
        wait_for(lambda: _answers(lonely.grpc_addr), what="the gRPC server to listen")
        assert health(lonely.grpc_addr) == NOT_SERVING
        assert http_status(lonely.api.ready_url) == 503
    finally:
        remove_backend(lonely)


def test_an_api_is_not_serving_while_its_broker_does_not_answer(stack: Stack, log_dir) -> None:
    lonely = start_backend(
        "shop",
        unique("nobus"),
        log_dir,
        start_worker=False,
        replicas=1,
        LETHE_AMQP_URL="amqp://guest:guest@127.0.0.1:1//",
    )
    try:
        wait_for(lambda: _answers(lonely.grpc_addr), what="the gRPC server to listen")
        assert health(lonely.grpc_addr) == NOT_SERVING
    finally:
        remove_backend(lonely)


def _answers(addr: str) -> bool:
    try:
        health(addr)
    except grpc.RpcError:
        return False
    return True


def test_stopping_an_api_drains_it_and_exits_cleanly(stack: Stack, log_dir) -> None:
    extra = start_backend("consent", unique("drain"), log_dir, start_worker=False)
    try:
        extra.api.wait_ready()
        assert extra.api.stop() == 0
        assert "grpc server stopped" in extra.api.log()
    finally:
        remove_backend(extra)
