"""The little HTTP plumbing both fakes share: JSON in and out, bearer keys, idempotency.

The fakes stand for what is outside Lethe, a payment provider's sandbox
(``payment_sandbox.py``) and a supplier (``supplier.py``). Each has the shape
of the real thing (JSON over HTTP, a secret API key, idempotency keys, a
signed notification) and runs as its own process in the dev stack and in
tests; nothing in Lethe imports them.
"""

from __future__ import annotations

import hmac
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 64 * 1024


class JsonHandler(BaseHTTPRequestHandler):
    """Routes to ``do_<verb>`` of a subclass; helpers for bodies, keys and answers."""

    server_version = "LetheFake/1"
    api_key = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass  # request lines could carry references; fakes log nothing

    def answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(data)

    def error(self, status: int, code: str, message: str) -> None:
        self.answer(status, {"error": {"code": code, "message": message}})

    def body(self) -> dict[str, Any] | None:
        """The JSON object sent, or None after answering 400."""
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.error(413, "too_large", "the body is too large")
            return None
        try:
            value = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            value = None
        if not isinstance(value, dict):
            self.error(400, "invalid_json", "the body must be a JSON object")
            return None
        return value

    def authorised(self) -> bool:
        """The secret key as a bearer token; answers 401 when it is wrong."""
        sent = self.headers.get("Authorization", "").removeprefix("Bearer ").encode()
        if self.api_key and hmac.compare_digest(sent, self.api_key.encode()):
            return True
        self.error(401, "unauthorised", "a valid API key is required")
        return False

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, POST")
        self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.end_headers()


class Idempotency:
    """Answers remembered per (API key scope, Idempotency-Key), as real providers keep them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: dict[str, tuple[int, dict[str, Any]]] = {}

    def lock(self) -> threading.Lock:
        return self._lock

    def get(self, key: str) -> tuple[int, dict[str, Any]] | None:
        return self._answers.get(key)

    def put(self, key: str, status: int, body: dict[str, Any]) -> None:
        if key:
            self._answers[key] = (status, body)


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default listen backlog (5) drops bursts of connections
    daemon_threads = True


def serve(handler: type[JsonHandler], port: int) -> None:
    server = _Server((os.environ.get("LETHE_BIND_HOST", "127.0.0.1"), port), handler)
    server.serve_forever()
