"""The data export's deadline per service: read once from the environment, and checked."""

from __future__ import annotations

import grpc
import pytest

from lethe_common.config import ConfigError
from lethe_gateway.config import load_config
from lethe_gateway.routes.data_export import PARTS, explain_missing

pytestmark = pytest.mark.unit


def test_the_export_deadline_defaults_to_five_seconds_and_is_configurable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LETHE_GATEWAY_EXPORT_TIMEOUT_SECONDS", raising=False)
    assert load_config().export_timeout_seconds == 5.0
    monkeypatch.setenv("LETHE_GATEWAY_EXPORT_TIMEOUT_SECONDS", "2.5")
    assert load_config().export_timeout_seconds == 2.5


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_a_deadline_that_is_no_positive_number_stops_the_gateway(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("LETHE_GATEWAY_EXPORT_TIMEOUT_SECONDS", value)
    with pytest.raises(ConfigError, match="LETHE_GATEWAY_EXPORT_TIMEOUT_SECONDS"):
        load_config()


def test_a_missing_part_is_explained_in_plain_words() -> None:
    shop = next(part for part in PARTS if part.service == "shop")
    assert explain_missing(shop, grpc.StatusCode.DEADLINE_EXCEEDED, 5.0).startswith(
        "The shop did not answer within 5 seconds."
    )
    assert explain_missing(shop, grpc.StatusCode.UNAVAILABLE, 5.0).startswith(
        "The shop could not be reached just now."
    )
    assert "error" in explain_missing(shop, grpc.StatusCode.INTERNAL, 5.0)
    assert [part.service for part in PARTS] == ["identity", "consent", "shop", "newsletter", "analytics"]
