"""Fixtures of the browser tests: Debian's Chromium, one per module (lethe_testing.browser)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from lethe_testing.browser import launch_chromium


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with launch_chromium() as browser:
        yield browser
