"""The consent service's configuration: defaults, bounds, fail-fast."""

from __future__ import annotations

import pytest

from lethe_common.config import ConfigError
from lethe_consent.config import load_config


def test_defaults_give_the_consent_its_own_ports_database_and_deadlines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in (
        "CONSENT_GRPC_PORT",
        "CONSENT_MONGO_DB",
        "CONSENT_RECEIPT_SERVICES",
        "CONSENT_REQUEST_DUE_MONTHS",
        "CONSENT_PROOF_RETENTION_DAYS",
    ):
        monkeypatch.delenv(name, raising=False)
    config = load_config()
    common = config.common
    assert (common.grpc_port, common.api_metrics_port, common.worker_metrics_port) == (50052, 9102, 9202)
    assert (common.service, common.mongo_db) == ("consent", "lethe_consent")
    assert config.receipt_services == ("identity", "consent", "shop", "newsletter", "analytics")
    assert (config.request_due_months, config.proof_retention_days) == (1, 3 * 365)


def test_a_missing_pepper_stops_the_consent_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LETHE_SUBJECT_PEPPER", raising=False)
    with pytest.raises(ConfigError, match="LETHE_SUBJECT_PEPPER"):
        load_config()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CONSENT_RECEIPT_SERVICES", "consent,billing"),
        ("CONSENT_RECEIPT_SERVICES", " , "),
        ("CONSENT_REQUEST_DUE_MONTHS", "4"),
        ("CONSENT_REQUEST_DUE_MONTHS", "-1"),
        ("CONSENT_PROOF_RETENTION_DAYS", "-5"),
        ("CONSENT_CONFIRMATION_TTL_HOURS", "0"),
    ],
)
def test_a_value_out_of_bounds_is_named_at_start_up(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_config()


def test_receipt_services_are_deduplicated_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENT_RECEIPT_SERVICES", "shop, consent,shop")
    assert load_config().receipt_services == ("shop", "consent")
