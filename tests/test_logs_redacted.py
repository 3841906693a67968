"""Logs of every process, even at DEBUG while handling an address, never contain it."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from lethe.diagnostics.v1 import diagnostics_pb2 as pb
from lethe.diagnostics.v1 import diagnostics_pb2_grpc as pb_grpc
from lethe_testing import Stack, start_stack, stop_stack, unique, wait_for

ADDRESS = "Max.Mustermann+portal@beispiel.de"
PHONE = "+49 30 12345678"


@pytest.fixture(scope="module")
def debug_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(unique("dbg"), tmp_path_factory.mktemp("debug-logs"), LETHE_LOG_LEVEL="DEBUG")
    yield running
    stop_stack(running)


def test_handling_an_address_leaves_no_trace_of_it_in_any_log(debug_stack: Stack) -> None:
    identity = debug_stack.backends["identity"]
    with identity.channel() as channel:
        stub = pb_grpc.DiagnosticsStub(channel)
        reply = stub.Ping(pb.PingRequest(note="redaction", email=ADDRESS), timeout=5)
        with pytest.raises(grpc.RpcError):
            stub.Ping(pb.PingRequest(note=f"call {PHONE}", email=ADDRESS), timeout=5)
        wait_for(
            lambda: all(
                pb_grpc.DiagnosticsStub(c).CheckPing(pb.CheckPingRequest(ping_id=reply.ping_id)).seen
                for c in [b.channel() for b in debug_stack.backends.values()]
            ),
            what="every worker to handle the event",
        )

    logs = {p.name: p.log() for p in debug_stack.processes()}
    assert any(
        '"fields": ["note", "email"]' in text
        for name, text in logs.items()
        if name.startswith("identity-api")
    ), "the request must have been logged"
    for name, text in logs.items():
        lowered = text.lower()
        assert "mustermann" not in lowered, f"{name} logged the address"
        assert "beispiel.de" not in lowered, f"{name} logged the address"
        assert "12345678" not in text, f"{name} logged the phone number"
