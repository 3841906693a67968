"""GrpcServer on a real port: status codes from domain errors, health, reflection, metrics."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client import REGISTRY

from lethe.diagnostics.v1 import diagnostics_pb2 as pb
from lethe.diagnostics.v1 import diagnostics_pb2_grpc as pb_grpc
from lethe_common import errors
from lethe_common.grpc_server import GrpcServer, ServiceBinding, bind_port
from lethe_testing import free_port, wait_for

pytestmark = pytest.mark.unit  # needs no stack: `make unit` runs these

SERVICE = pb.DESCRIPTOR.services_by_name["Diagnostics"].full_name
SECRET = "alice@example.com failed at db.internal"


class FailingDiagnostics(pb_grpc.DiagnosticsServicer):
    """Ping fails in the way request.note names; CheckPing is not implemented."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def Ping(self, request: pb.PingRequest, context: Any) -> pb.PingResponse:  # noqa: N802
        if request.note == "not_found":
            raise errors.NotFound("nothing here")
        if request.note == "invalid":
            raise errors.InvalidArgument("note is too long")
        if request.note == "busy":
            raise errors.TooManyRequests("slow down")
        if request.note == "crash":
            raise RuntimeError(SECRET)
        if request.note == "slow":
            self.entered.set()
            self.release.wait(10)
        return pb.PingResponse(ping_id="p1", published=True)

    def CheckPing(self, request: pb.CheckPingRequest, context: Any) -> pb.CheckPingResponse:  # noqa: N802
        raise NotImplementedError


class Running:
    def __init__(self) -> None:
        self.ready = threading.Event()
        self.servicer = FailingDiagnostics()
        self.server = GrpcServer(
            [ServiceBinding(pb_grpc.add_DiagnosticsServicer_to_server, self.servicer, SERVICE)],
            free_port(),
            readiness=self.ready.is_set,
            health_interval=0.1,
        )
        self.server.start()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.server.port}")
        self.stub = pb_grpc.DiagnosticsStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    def status(self, service: str = "") -> int:
        reply = self.health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        return int(reply.status)

    def refuses_health_checks(self) -> bool:
        try:
            self.status()
        except grpc.RpcError as exc:
            return exc.code() == grpc.StatusCode.UNAVAILABLE
        return False

    def ping_error(self, note: str) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as caught:
            self.stub.Ping(pb.PingRequest(note=note), timeout=5)
        return caught.value


@pytest.fixture
def running() -> Iterator[Running]:
    running = Running()
    yield running
    running.servicer.release.set()
    running.channel.close()
    running.server.stop(0)


def _handled(method: str, code: str) -> float:
    value = REGISTRY.get_sample_value(
        "lethe_grpc_server_handled_total", {"grpc_service": SERVICE, "grpc_method": method, "grpc_code": code}
    )
    return value or 0.0


def test_successful_call_returns_the_reply(running: Running) -> None:
    reply = running.stub.Ping(pb.PingRequest(note="fine"), timeout=5)
    assert (reply.ping_id, reply.published) == ("p1", True)


def test_not_found_becomes_not_found_with_its_message(running: Running) -> None:
    error = running.ping_error("not_found")
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == "nothing here"


def test_invalid_argument_becomes_invalid_argument(running: Running) -> None:
    error = running.ping_error("invalid")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "note is too long"


def test_too_many_requests_becomes_resource_exhausted(running: Running) -> None:
    assert running.ping_error("busy").code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_unexpected_exception_becomes_internal_without_leaking_its_text(running: Running) -> None:
    error = running.ping_error("crash")
    assert error.code() == grpc.StatusCode.INTERNAL
    assert error.details() == "internal error"


def test_not_implemented_becomes_unimplemented(running: Running) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        running.stub.CheckPing(pb.CheckPingRequest(ping_id="x"), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "CheckPing" in (caught.value.details() or "")


def test_handled_counter_grows_for_the_status_code_returned(running: Running) -> None:
    before_not_found, before_ok = _handled("Ping", "NOT_FOUND"), _handled("Ping", "OK")
    running.ping_error("not_found")
    running.ping_error("not_found")
    running.stub.Ping(pb.PingRequest(note="fine"), timeout=5)
    assert _handled("Ping", "NOT_FOUND") == before_not_found + 2
    assert _handled("Ping", "OK") == before_ok + 1


def test_handled_counter_counts_an_unexpected_exception_as_internal(running: Running) -> None:
    before = _handled("Ping", "INTERNAL")
    running.ping_error("crash")
    assert _handled("Ping", "INTERNAL") == before + 1


def test_health_follows_readiness(running: Running) -> None:
    serving, not_serving = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
    assert running.status() == not_serving
    running.ready.set()
    wait_for(lambda: running.status() == serving, timeout=10, what="SERVING")
    assert running.status(SERVICE) == serving
    running.ready.clear()
    wait_for(lambda: running.status() == not_serving, timeout=10, what="NOT_SERVING again")
    assert running.status(SERVICE) == not_serving


def test_health_of_an_unknown_service_is_not_found(running: Running) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        running.status("no.such.Service")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_stop_refuses_new_calls_but_finishes_the_one_in_flight(running: Running) -> None:
    in_flight = running.stub.Ping.future(pb.PingRequest(note="slow"), timeout=15)
    wait_for(running.servicer.entered.is_set, timeout=10, what="the slow call to start")
    stopper = threading.Thread(target=running.server.stop, args=(10,))
    stopper.start()
    wait_for(running.refuses_health_checks, timeout=10, what="new calls to be refused")
    assert not in_flight.done()
    running.servicer.release.set()
    assert in_flight.result(timeout=15).ping_id == "p1"
    stopper.join(15)
    assert not stopper.is_alive()


def test_a_drain_says_not_serving_while_it_still_answers_calls(running: Running) -> None:
    """Kubernetes' probes and balancers see NOT_SERVING during the drain and move away;
    a call that reaches us meanwhile is still answered."""
    running.ready.set()
    wait_for(lambda: running.status() == health_pb2.HealthCheckResponse.SERVING, timeout=10, what="SERVING")
    stopper = threading.Thread(target=running.server.stop, args=(1,), kwargs={"drain": 2.0})
    stopper.start()
    not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
    wait_for(lambda: running.status() == not_serving, timeout=1.5, what="NOT_SERVING")
    assert running.stub.Ping(pb.PingRequest(note=""), timeout=5).ping_id == "p1"
    stopper.join(10)
    assert not stopper.is_alive()
    assert running.refuses_health_checks()


def test_after_stop_health_checks_are_unavailable(running: Running) -> None:
    running.ready.set()
    wait_for(lambda: running.status() == health_pb2.HealthCheckResponse.SERVING, timeout=10, what="SERVING")
    running.server.stop(1)
    with pytest.raises(grpc.RpcError) as caught:
        running.status()
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_reflection_lists_the_registered_services(running: Running) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(running.channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    (reply,) = list(stub.ServerReflectionInfo(iter([request]), timeout=5))
    names = {service.name for service in reply.list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health"} <= names


def test_a_busy_port_is_waited_for_and_then_refused() -> None:
    """Our ports lie in the ephemeral range: a client may hold one for a while (TIME_WAIT)."""
    port = free_port()
    holder = socket.socket()
    holder.bind(("127.0.0.1", port))
    holder.listen()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    threading.Timer(1.0, holder.close).start()
    assert bind_port(server, "127.0.0.1", port, wait=10) == port  # bound once it was free
    server.stop(0)

    busy = free_port()
    holder = socket.socket()
    holder.bind(("127.0.0.1", busy))
    holder.listen()
    try:
        with pytest.raises(RuntimeError):
            bind_port(grpc.server(futures.ThreadPoolExecutor(max_workers=1)), "127.0.0.1", busy, wait=1.5)
    finally:
        holder.close()
