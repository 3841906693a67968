"""Checking how a gRPC call fails."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc


def code_of(call: Callable[[], Any]) -> grpc.StatusCode:
    """The status code ``call`` fails with; AssertionError if it succeeds."""
    try:
        call()
    except grpc.RpcError as exc:
        return exc.code()
    raise AssertionError("the call succeeded but was expected to fail")
