"""Request bodies over the limit are refused with 413 before they are read (issue 13).

Against the gateway process itself (uvicorn on a real port), over raw sockets where the
test needs to send less than it announces, or to stream a chunked body and stop."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from lethe_common.config import ConfigError
from lethe_gateway.config import load_config

LoneGateway = Callable[..., AbstractContextManager[str]]  # the fixture of conftest.py
KIB = 1024
DEFAULT_LIMIT = 64 * KIB
PROMPTLY = 3.0  # seconds: well below the socket timeout, a hang fails the test


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float
    closed: bool  # the server closed the connection after answering

    def json(self) -> Any:
        return json.loads(self.body)


def _read_answer(sock: socket.socket, started: float) -> Answer:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before an answer: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    seconds = time.monotonic() - started
    try:
        closed = sock.recv(1) == b""
    except (ConnectionResetError, TimeoutError):
        closed = False
    return Answer(int(status_line.split()[1]), headers, body, seconds, closed)


def raw_post(
    url: str, path: str, headers: dict[str, str], parts: list[bytes], timeout: float = 10.0
) -> Answer:
    """Send a request's head and then ``parts`` as they are (nothing more), and read the
    answer; a server that waits for the rest of the body runs into the timeout."""
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=timeout) as sock:
        head = "".join(
            f"{name}: {value}\r\n"
            for name, value in {"Host": address.netloc, "Content-Type": "application/json", **headers}.items()
        )
        sock.sendall(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode())
        started = time.monotonic()
        for part in parts:
            sock.sendall(part)
        return _read_answer(sock, started)


def chunked(*sizes: int, fill: bytes = b" ") -> list[bytes]:
    """Chunks of these sizes (JSON white space), in chunked transfer coding; no last chunk."""
    return [f"{size:x}\r\n".encode() + fill * size + b"\r\n" for size in sizes]


LAST_CHUNK = b"0\r\n\r\n"


def json_of_size(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes that the registration route refuses as
    invalid (422): a body that got through to validation."""
    body = b'{"email": ""}'
    return body[:-2] + b"x" * (size - len(body)) + body[-2:]


def assert_too_large(answer: Answer, message: str = "") -> None:
    assert answer.status == 413, answer
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["connection"] == "close"
    error = answer.json()["error"]
    assert error["code"] == "too_large"
    assert error["message"] == message if message else "too large" in error["message"]
    assert answer.seconds < PROMPTLY, answer.seconds
    assert answer.closed


def test_a_content_length_over_the_limit_is_refused_without_reading_the_body(gateway_url: str) -> None:
    # 10 MB announced, 9 bytes sent: a server that reads the body before refusing it waits
    # for the rest, and the test runs into its timeout.
    answer = raw_post(gateway_url, "/api/v1/accounts", {"Content-Length": str(10_000_000)}, [b'{"email":'])
    assert_too_large(answer)
    assert str(DEFAULT_LIMIT) in answer.json()["error"]["message"]


def test_no_100_continue_is_sent_for_a_body_over_the_limit(gateway_url: str) -> None:
    answer = raw_post(
        gateway_url,
        "/api/v1/newsletter/subscriptions",
        {"Content-Length": str(DEFAULT_LIMIT + 1), "Expect": "100-continue"},
        [],
    )
    assert_too_large(answer)


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(gateway_url: str) -> None:
    # 64 KiB + 1 byte streamed, and the body never ends: only counting refuses it.
    answer = raw_post(
        gateway_url,
        "/api/v1/contact",
        {"Transfer-Encoding": "chunked"},
        chunked(16 * KIB, 16 * KIB, 16 * KIB, 16 * KIB, 1),
    )
    assert_too_large(answer)


def test_bodies_up_to_the_limit_reach_the_route(gateway_url: str) -> None:
    body = json_of_size(DEFAULT_LIMIT)
    exact = raw_post(gateway_url, "/api/v1/accounts", {"Content-Length": str(len(body))}, [body])
    assert exact.status == 422, exact
    assert "email" in exact.json()["error"]["message"]
    streamed = raw_post(
        gateway_url,
        "/api/v1/accounts",
        {"Transfer-Encoding": "chunked"},
        [f"{len(body):x}\r\n".encode() + body + b"\r\n", LAST_CHUNK],
    )
    assert streamed.status == 422, streamed
    assert "email" in streamed.json()["error"]["message"]


def test_a_whole_large_body_from_an_ordinary_client_is_refused(gateway_url: str) -> None:
    answer = httpx.post(
        f"{gateway_url}/api/v1/orders",
        content=b" " * 10_000_000,
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "too_large"
    metrics = httpx.get(f"{gateway_url}/metrics").text
    assert 'lethe_http_requests_total{method="POST",route="unmatched",status="413"}' in metrics


def test_staff_texts_have_a_larger_limit_of_their_own(gateway_url: str) -> None:
    # 200 KB campaign and consent text bodies get through to the routes (401: no session).
    for path in ("/api/v1/admin/newsletter/campaigns", "/api/v1/admin/consent-texts"):
        body = json.dumps({"subject": "x", "text_body": "y" * 200_000}).encode()
        if path.endswith("consent-texts"):
            body = json.dumps(
                {
                    "purpose": "newsletter",
                    "version": "9",
                    "de": {"title": "T", "body": "ä" * 20_000},
                    "en": {"title": "T", "body": "é" * 20_000},
                }
            ).encode()  # every character escaped: 240 KB
        answer = httpx.post(
            f"{gateway_url}{path}", content=body, headers={"content-type": "application/json"}, timeout=10
        )
        assert answer.status_code == 401, (path, answer.text)
    too_large = raw_post(
        gateway_url, "/api/v1/admin/newsletter/campaigns", {"Content-Length": str(2_621_441)}, [b"{"]
    )
    assert_too_large(too_large)
    assert "2621440" in too_large.json()["error"]["message"]


def test_the_limit_is_configured(lone_gateway: LoneGateway) -> None:
    with lone_gateway(LETHE_GATEWAY_MAX_BODY_BYTES="2048") as url:
        body = json_of_size(2048)
        assert raw_post(url, "/api/v1/accounts", {"Content-Length": "2048"}, [body]).status == 422
        refused = raw_post(url, "/api/v1/accounts", {"Content-Length": "2049"}, [b"{"])
        assert_too_large(refused)
        assert "2048" in refused.json()["error"]["message"]
        assert_too_large(
            raw_post(url, "/api/v1/accounts", {"Transfer-Encoding": "chunked"}, chunked(1024, 1024, 1))
        )


def test_payment_notifications_keep_their_own_limit(lone_gateway: LoneGateway) -> None:
    notification = "/api/v1/payments/notifications"
    message = "a payment notification is never this large"
    # The gateway's default raised to 1 MiB: notifications still stop at 64 KiB.
    with lone_gateway(LETHE_GATEWAY_MAX_BODY_BYTES=str(1024 * KIB)) as url:
        larger = json_of_size(100 * KIB)
        assert raw_post(url, "/api/v1/accounts", {"Content-Length": str(len(larger))}, [larger]).status == 422
        assert_too_large(
            raw_post(url, notification, {"Content-Length": str(DEFAULT_LIMIT + 1)}, [b"{"]), message
        )
        assert_too_large(
            raw_post(url, notification, {"Transfer-Encoding": "chunked"}, chunked(32 * KIB, 32 * KIB, 1)),
            message,
        )
        # Up to the limit it reaches the route, which asks the shop (not running here).
        body = json_of_size(DEFAULT_LIMIT)
        passed = raw_post(url, notification, {"Content-Length": str(len(body))}, [body])
        assert passed.status in (503, 504), passed


@pytest.mark.parametrize("value", ["abc", "64k", "0", "-1", "1023", str(16 * 1024 * 1024 + 1), "1e5", "٣٣٣٣"])
def test_an_invalid_limit_stops_the_gateway_at_start(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LETHE_GATEWAY_MAX_BODY_BYTES", value)
    with pytest.raises(ConfigError, match="LETHE_GATEWAY_MAX_BODY_BYTES"):
        load_config()


def test_the_limit_is_read_once_with_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LETHE_GATEWAY_MAX_BODY_BYTES", raising=False)
    assert load_config().max_body_bytes == DEFAULT_LIMIT
    monkeypatch.setenv("LETHE_GATEWAY_MAX_BODY_BYTES", "1048576")
    assert load_config().max_body_bytes == 1048576


def test_the_gateway_process_exits_on_an_invalid_limit() -> None:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "lethe_gateway.api"],
        capture_output=True,
        env={**os.environ, "LETHE_GATEWAY_MAX_BODY_BYTES": "lots"},
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert b"LETHE_GATEWAY_MAX_BODY_BYTES" in result.stdout + result.stderr
    assert time.monotonic() - started < 20
