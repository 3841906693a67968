"""A nameko service, with nameko's own event_handler, receives what Lethe publishes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import grpc
import pytest
from kombu import Connection

from lethe.diagnostics.v1 import diagnostics_pb2 as pb
from lethe.diagnostics.v1 import diagnostics_pb2_grpc as pb_grpc
from lethe_testing import Stack, unique, wait_for

ROOT = Path(__file__).resolve().parent.parent
PEER_PYTHON = ROOT / "var" / "venv-nameko" / "bin" / "python"


@pytest.fixture
def nameko_peer(tmp_path: Path, amqp_url: str):
    if not PEER_PYTHON.exists():
        pytest.fail("the nameko venv is missing: `make test` creates it (tools/setup.sh --test)")
    name = unique("nameko_peer")
    out = tmp_path / "received.jsonl"
    env = {
        **os.environ,
        "NAMEKO_PEER_AMQP_URI": amqp_url,
        "NAMEKO_PEER_OUT": str(out),
        "NAMEKO_PEER_SERVICE_NAME": name,
        "PYTHONWARNINGS": "ignore",
    }
    log = open(tmp_path / "peer.log", "wb")  # noqa: SIM115
    peer = subprocess.Popen(
        [str(PEER_PYTHON), str(ROOT / "tests" / "nameko_peer" / "run.py")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    wait_for(
        lambda: Path(f"{out}.ready").exists() or peer.poll() is not None,
        30,
        what="the nameko peer to bind its queue",
    )
    assert peer.poll() is None, (tmp_path / "peer.log").read_text()
    yield out
    peer.terminate()
    peer.wait(15)
    with Connection(amqp_url) as connection:
        connection.channel().queue_delete(f"evt-identity-system.ping--{name}.handle")


def test_a_nameko_event_handler_receives_a_lethe_event(
    stack: Stack, channels: dict[str, grpc.Channel], nameko_peer: Path
) -> None:
    reply = pb_grpc.DiagnosticsStub(channels["identity"]).Ping(
        pb.PingRequest(note="nameko", email="grace.hopper@example.com"), timeout=5
    )

    def received() -> list[dict[str, object]]:
        if not nameko_peer.exists():
            return []
        lines = [json.loads(line) for line in nameko_peer.read_text().splitlines()]
        return [e for e in lines if e["payload"]["ping_id"] == reply.ping_id]  # type: ignore[index]

    events = wait_for(received, what="the nameko peer to receive the event")
    assert len(events) == 1
    event = events[0]
    assert event["type"] == "system.ping" and event["source"] == "identity"
    assert event["subject_key"] == reply.subject_key
    assert "grace.hopper" not in json.dumps(event)
