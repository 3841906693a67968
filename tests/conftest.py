"""Cross-service fixtures: the whole system on free ports, one database set per module."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from lethe_testing import Stack, start_stack, stop_stack, unique


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(unique("x"), tmp_path_factory.mktemp("logs"))
    yield running
    stop_stack(running)


@pytest.fixture(scope="module")
def channels(stack: Stack) -> Iterator[dict[str, grpc.Channel]]:
    opened = {name: b.channel() for name, b in stack.backends.items()}
    yield opened
    for channel in opened.values():
        channel.close()
