"""Events across services: fan-out to every worker, no address on the wire, nothing lost."""

from __future__ import annotations

import json

import grpc
import pytest
from pymongo import MongoClient

from lethe.diagnostics.v1 import diagnostics_pb2 as pb
from lethe.diagnostics.v1 import diagnostics_pb2_grpc as pb_grpc
from lethe_common.events.consumer import PROCESSED_COLLECTION
from lethe_common.events.outbox import EVENTS_FIELD
from lethe_testing import EventTap, Stack, start_backend, unique, wait_for


def diagnostics(channel: grpc.Channel) -> pb_grpc.DiagnosticsStub:
    return pb_grpc.DiagnosticsStub(channel)


def seen_by(channels: dict[str, grpc.Channel], ping_id: str) -> set[str]:
    return {
        name
        for name, channel in channels.items()
        if diagnostics(channel).CheckPing(pb.CheckPingRequest(ping_id=ping_id), timeout=3).seen
    }


def test_an_event_reaches_the_worker_of_every_service(
    stack: Stack, channels: dict[str, grpc.Channel]
) -> None:
    reply = diagnostics(channels["identity"]).Ping(pb.PingRequest(note="fan out"), timeout=5)

    assert reply.published
    wait_for(
        lambda: seen_by(channels, reply.ping_id) == set(stack.backends), what="every worker to see the ping"
    )
    source = diagnostics(channels["shop"]).CheckPing(pb.CheckPingRequest(ping_id=reply.ping_id)).source
    assert source == "identity"


def test_events_name_people_by_subject_key_never_by_address(
    stack: Stack, channels: dict[str, grpc.Channel], tap: EventTap
) -> None:
    address = "Ada.Lovelace@example.org"
    reply = diagnostics(channels["identity"]).Ping(pb.PingRequest(note="key", email=address), timeout=5)

    bodies = [b for b in tap.drain(2.0) if b["payload"]["ping_id"] == reply.ping_id]  # type: ignore[index]

    assert len(bodies) == 1
    assert bodies[0]["subject_key"] == reply.subject_key and len(reply.subject_key) == 64
    assert "example.org" not in json.dumps(bodies[0]).lower()


def test_bad_input_is_refused_with_a_clear_status(channels: dict[str, grpc.Channel]) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        diagnostics(channels["consent"]).Ping(pb.PingRequest(note="x" * 65), timeout=5)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "at most 64" in (refused.value.details() or "")


def test_an_event_written_while_the_broker_was_down_and_the_relay_dead_arrives_once(
    stack: Stack, channels: dict[str, grpc.Channel], mongo_client: MongoClient, log_dir
) -> None:
    identity = stack.backends["identity"]
    identity.kill_workers()  # every relay of identity is dead...
    # ...and this API cannot reach the broker, so its publish right after the write fails.
    cut_off = start_backend(
        "identity",
        stack.run_id,
        log_dir,
        start_worker=False,
        replicas=1,
        IDENTITY_MONGO_DB=identity.db_name,
        LETHE_AMQP_URL="amqp://guest:guest@127.0.0.1:1//",
    )
    try:
        wait_for(lambda: _can_ping(cut_off.grpc_addr), what="the cut-off API to answer")
        with grpc.insecure_channel(cut_off.grpc_addr) as channel:
            reply = diagnostics(channel).Ping(pb.PingRequest(note="survives"), timeout=10)
    finally:
        cut_off.api.stop()  # shares the stack's database: nothing of its own to remove
    assert not reply.published
    assert seen_by(channels, reply.ping_id) == set()

    identity.restart_workers()  # the relays come back

    wait_for(
        lambda: seen_by(channels, reply.ping_id) == set(stack.backends),
        timeout=30,
        what="the relayed event to reach every worker",
    )
    ping = mongo_client[identity.db_name]["pings"].find_one({"_id": reply.ping_id}) or {}
    [event_id] = ping[EVENTS_FIELD]  # the ping document marks the event that announced it
    consent_db = mongo_client[stack.backends["consent"].db_name]
    handled = [d["_id"] for d in consent_db[PROCESSED_COLLECTION].find() if d["_id"].endswith(f"/{event_id}")]
    assert len(handled) == 1, handled


def _can_ping(addr: str) -> bool:
    try:
        with grpc.insecure_channel(addr) as channel:
            diagnostics(channel).CheckPing(pb.CheckPingRequest(ping_id="0" * 32), timeout=2)
    except grpc.RpcError:
        return False
    return True


def test_a_worker_that_was_down_handles_what_was_published_meanwhile(
    stack: Stack, channels: dict[str, grpc.Channel]
) -> None:
    shop = stack.backends["shop"]
    shop.kill_workers()

    reply = diagnostics(channels["consent"]).Ping(pb.PingRequest(note=unique("while-down")), timeout=5)
    wait_for(lambda: "consent" in seen_by(channels, reply.ping_id), what="the consent worker")
    assert "shop" not in seen_by(channels, reply.ping_id)

    shop.restart_workers()
    wait_for(
        lambda: "shop" in seen_by(channels, reply.ping_id),
        timeout=30,
        what="the shop worker to catch up from its durable queue",
    )
