"""The gateway remembers identity's answer for a session briefly, for safe methods only.

The identity service here is a real gRPC server on a free port that counts the calls it
gets (a stand-in for the service, in the service's own contract).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field

import grpc
import pytest
from fastapi.testclient import TestClient

from lethe.identity.v1 import identity_pb2 as pb
from lethe.identity.v1 import identity_pb2_grpc
from lethe_gateway.app import create_app
from lethe_gateway.auth import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, csrf_token_for
from lethe_gateway.config import GatewayConfig
from lethe_gateway.session_cache import MISS, SessionCache
from lethe_testing import BACKENDS, free_port

TOKEN = "s" * 43


@dataclass
class FakeIdentity(identity_pb2_grpc.IdentityServiceServicer):
    """Authenticate, UpdateProfile and Logout of one account, each call counted."""

    calls: list[str] = field(default_factory=list)
    name: str = "Ada"
    logged_in: bool = True

    def _account(self) -> pb.Account:
        return pb.Account(id="acc_" + "0" * 32, email="ada@example.org", name=self.name, email_verified=True)

    def Authenticate(self, request: pb.AuthenticateRequest, context: grpc.ServicerContext) -> pb.Account:  # noqa: N802
        self.calls.append("Authenticate")
        if not self.logged_in or request.session_token != TOKEN:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "not logged in")
        return self._account()

    def UpdateProfile(self, request: pb.UpdateProfileRequest, context: grpc.ServicerContext) -> pb.Account:  # noqa: N802
        self.calls.append("UpdateProfile")
        self.name = request.name or self.name
        return self._account()

    def Logout(self, request: pb.LogoutRequest, context: grpc.ServicerContext) -> pb.Empty:  # noqa: N802
        self.calls.append("Logout")
        self.logged_in = False
        return pb.Empty()


@pytest.fixture
def identity() -> Iterator[tuple[FakeIdentity, int]]:
    fake, port = FakeIdentity(), free_port()
    server = grpc.server(futures.ThreadPoolExecutor(4))
    identity_pb2_grpc.add_IdentityServiceServicer_to_server(fake, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    yield fake, port
    server.stop(0)


def client_for(port: int, cache_seconds: float) -> TestClient:
    backends = {name: f"127.0.0.1:{free_port()}" for name in BACKENDS}
    backends["identity"] = f"127.0.0.1:{port}"
    config = GatewayConfig(
        host="127.0.0.1",
        port=free_port(),
        log_level="INFO",
        backends=backends,
        health_timeout_seconds=1.0,
        rpc_timeout_seconds=5.0,
        cookie_secure="auto",
        session_cache_seconds=cache_seconds,
    )
    client = TestClient(create_app(config))
    client.cookies.set(SESSION_COOKIE, TOKEN)
    client.cookies.set(CSRF_COOKIE, csrf_token_for(TOKEN))
    return client


def test_reads_within_the_window_ask_identity_once(identity: tuple[FakeIdentity, int]) -> None:
    fake, port = identity
    with client_for(port, 30) as client:
        names = [client.get("/api/v1/me").json()["name"] for _ in range(5)]

    assert names == ["Ada"] * 5
    assert fake.calls == ["Authenticate"]


def test_a_write_always_asks_identity_and_later_reads_see_it(identity: tuple[FakeIdentity, int]) -> None:
    fake, port = identity
    with client_for(port, 30) as client:
        assert client.get("/api/v1/me").json()["name"] == "Ada"
        patched = client.patch(
            "/api/v1/me", json={"name": "Grace"}, headers={CSRF_HEADER: csrf_token_for(TOKEN)}
        )
        after = client.get("/api/v1/me").json()["name"]

    assert patched.status_code == 200 and after == "Grace"
    assert fake.calls == ["Authenticate", "Authenticate", "UpdateProfile", "Authenticate"]


def test_a_log_out_through_this_gateway_ends_the_session_at_once(identity: tuple[FakeIdentity, int]) -> None:
    _, port = identity
    with client_for(port, 30) as client:
        assert client.get("/api/v1/me").status_code == 200
        assert client.delete("/api/v1/session", headers={CSRF_HEADER: csrf_token_for(TOKEN)}).status_code in (
            200,
            204,
        )
        client.cookies.set(SESSION_COOKIE, TOKEN)  # the old cookie, replayed
        assert client.get("/api/v1/me").status_code == 401


def test_with_the_cache_off_every_read_asks_identity(identity: tuple[FakeIdentity, int]) -> None:
    fake, port = identity
    with client_for(port, 0) as client:
        for _ in range(3):
            assert client.get("/api/v1/me").status_code == 200

    assert fake.calls == ["Authenticate"] * 3


def test_an_answer_is_forgotten_when_its_time_is_up_and_entries_are_bounded() -> None:
    cache = SessionCache(0.05, max_entries=2)
    cache.put("a", None)
    assert cache.get("a") is None
    time.sleep(0.06)
    assert cache.get("a") is MISS

    for token in ("x", "y", "z"):
        cache.put(token, pb.Account(id=token))
    assert cache.get("x") is MISS and cache.get("z") != MISS
