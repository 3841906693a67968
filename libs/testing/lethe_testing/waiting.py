"""Basics of every test: free ports, unique names, waiting for a condition without
sleeping blindly."""

from __future__ import annotations

import os
import socket
import time
import urllib.request
import uuid
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


# Test servers listen below Linux's ephemeral range (32768-60999 by default), from which
# the kernel picks the local ports of outgoing connections: a port that the kernel handed
# out as "free" (bind to 0) could be taken by a client's connection before our server binds
# it, which with two replicas of every process happened. Handed-out ports are not reused.
_PORTS = range(20000, 32768)
_handed_out: set[int] = set()
_next = [20000 + (os.getpid() * 7919) % len(_PORTS)]


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on and this process has not handed out."""
    for _ in range(len(_PORTS)):
        port = _PORTS[(_next[0] - _PORTS.start) % len(_PORTS)]
        _next[0] = port + 1
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port left below the ephemeral range")


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def wait_for(
    predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.1, what: str = "condition"
) -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - loopback
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0
