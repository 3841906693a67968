"""Nothing is lost when the store or the broker dies mid-flow (private instances, killed with SIGKILL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lethe.diagnostics.v1 import diagnostics_pb2 as pb
from lethe.diagnostics.v1 import diagnostics_pb2_grpc as pb_grpc
from lethe_testing import (
    Backend,
    PrivateServer,
    private_broker,
    private_store,
    remove_backend,
    start_backend,
    unique,
    wait_for,
)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def health(backend: Backend) -> int:
    """Asked of the first replica itself: a balancing channel would not call an unhealthy one."""
    with grpc.insecure_channel(f"127.0.0.1:{backend.grpc_port}") as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=3)
    return int(reply.status)


def ping(backend: Backend, note: str) -> pb.PingResponse:
    """Called on the first replica itself, even while its health says NOT_SERVING (a broker
    outage): the write must still succeed and its event wait in the outbox."""
    with grpc.insecure_channel(f"127.0.0.1:{backend.grpc_port}") as channel:
        return pb_grpc.DiagnosticsStub(channel).Ping(pb.PingRequest(note=note), timeout=15)


def seen(backend: Backend, ping_id: str) -> bool:
    """Asked of the first replica itself, which answers while its health says otherwise."""
    with grpc.insecure_channel(f"127.0.0.1:{backend.grpc_port}") as channel:
        return bool(
            pb_grpc.DiagnosticsStub(channel).CheckPing(pb.CheckPingRequest(ping_id=ping_id), timeout=5).seen
        )


@pytest.fixture
def backends() -> Iterator[list[Backend]]:
    started: list[Backend] = []
    yield started
    for backend in started:
        remove_backend(backend)


def test_a_store_outage_makes_the_api_unready_and_refuse_with_unavailable(
    tmp_path: Path, log_dir: Path, backends: list[Backend]
) -> None:
    store = private_store(tmp_path).start()
    identity = start_backend(
        "identity", unique("store"), log_dir, replicas=1, LETHE_MONGO_URL=f"mongodb://127.0.0.1:{store.port}/"
    )
    backends.append(identity)
    identity.api.wait_ready()
    try:
        store.kill()
        wait_for(lambda: health(identity) == NOT_SERVING, what="NOT_SERVING while the store is down")
        with pytest.raises(grpc.RpcError) as refused:
            ping(identity, "store down")
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE

        store.start()
        wait_for(lambda: health(identity) == SERVING, what="SERVING once the store is back")
        identity.worker.wait_ready()
        reply = ping(identity, "store back")
        wait_for(lambda: seen(identity, reply.ping_id), what="the event after the outage")
    finally:
        store.kill()


def test_a_broker_crash_mid_flow_loses_neither_queued_nor_unpublished_events(
    tmp_path: Path, log_dir: Path, backends: list[Backend]
) -> None:
    broker: PrivateServer = private_broker(tmp_path / "broker").start()
    amqp = f"amqp://guest:guest@127.0.0.1:{broker.port}//"
    run_id = unique("bus")
    identity = start_backend("identity", run_id, log_dir, LETHE_AMQP_URL=amqp)
    consent = start_backend("consent", run_id, log_dir, LETHE_AMQP_URL=amqp)
    backends.extend([identity, consent])
    for process in (*identity.apis, *identity.workers, *consent.apis, *consent.workers):
        process.wait_ready(60)
    try:
        for worker in consent.workers:
            worker.stop()
        queued = ping(identity, "queued")  # confirmed, waits in consent's durable queue
        assert queued.published

        broker.kill()
        unpublished = ping(identity, "unpublished")  # the write succeeds, the publish cannot
        assert not unpublished.published

        broker.start(90)
        consent.restart_workers()
        wait_for(
            lambda: seen(consent, queued.ping_id) and seen(consent, unpublished.ping_id),
            timeout=90,
            what="both events to reach consent after the broker restart",
        )
        # identity's worker ran through the crash: its relay and its consumer reconnected.
        wait_for(
            lambda: seen(identity, unpublished.ping_id),
            timeout=60,
            what="the worker that stayed up to reconnect and consume",
        )
    finally:
        broker.kill()
