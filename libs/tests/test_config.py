"""Env reads typed values, applies defaults and reports every problem at once."""

from __future__ import annotations

import pytest

from lethe_common.config import ConfigError, Env, load_common

pytestmark = pytest.mark.unit  # needs no stack: `make unit` runs these

FULL_ENV = {
    "LETHE_MONGO_URL": "mongodb://127.0.0.1:27018/",
    "LETHE_AMQP_URL": "amqp://guest:guest@127.0.0.1:5672//",
    "LETHE_SUBJECT_PEPPER": "pepper-for-tests",
    "LETHE_STAFF_VERIFY_KEY": "ab" * 32,
}


def _load(environ: dict[str, str]):
    env = Env(environ=environ)
    config = load_common("identity", env, grpc_port=50051, api_metrics_port=9101, worker_metrics_port=9201)
    return env, config


def test_every_missing_required_variable_is_named_in_one_error() -> None:
    env, _ = _load({})
    with pytest.raises(ConfigError) as caught:
        env.check()
    message = str(caught.value)
    for name in ("LETHE_MONGO_URL", "LETHE_AMQP_URL", "LETHE_SUBJECT_PEPPER"):
        assert name in message


def test_blank_value_counts_as_missing() -> None:
    env, _ = _load({**FULL_ENV, "LETHE_SUBJECT_PEPPER": "   "})
    with pytest.raises(ConfigError, match="LETHE_SUBJECT_PEPPER is required"):
        env.check()


def test_wrong_int_bool_and_choice_values_are_all_reported() -> None:
    env = Env(environ={"PORT": "eighty", "FLAG": "maybe", "KIND": "lazy"})
    assert env.int("PORT", 80) == 0
    assert env.bool("FLAG", True) is True
    env.choice("KIND", "classic", ("classic", "quorum"))
    with pytest.raises(ConfigError) as caught:
        env.check()
    message = str(caught.value)
    assert "PORT must be a whole number, got 'eighty'" in message
    assert "FLAG must be true or false, got 'maybe'" in message
    assert "KIND must be one of classic, quorum, got 'lazy'" in message


def test_wrong_float_is_reported() -> None:
    env = Env(environ={"GRACE": "soon"})
    env.float("GRACE", 1.0)
    with pytest.raises(ConfigError, match="GRACE must be a number, got 'soon'"):
        env.check()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("YES", True), ("on", True), ("0", False), ("False", False), ("off", False)],
)
def test_bool_accepts_the_usual_spellings(raw: str, expected: bool) -> None:
    env = Env(environ={"FLAG": raw})
    assert env.bool("FLAG", not expected) is expected
    env.check()


def test_values_are_trimmed_and_lists_split_on_commas() -> None:
    env = Env(environ={"PORT": " 8081 ", "NAMES": " a, b ,,c "})
    assert env.int("PORT") == 8081
    assert env.list("NAMES") == ("a", "b", "c")
    env.check()


def test_defaults_apply_when_variables_are_absent() -> None:
    env = Env(environ={})
    assert env.str("NAME", "fallback") == "fallback"
    assert env.int("PORT", 7) == 7
    assert env.float("GRACE", 2.5) == 2.5
    assert env.bool("FLAG", False) is False
    assert env.list("NAMES", ("x",)) == ("x",)
    assert env.choice("KIND", "classic", ("classic", "quorum")) == "classic"
    env.check()


def test_load_common_gives_the_service_defaults() -> None:
    env, config = _load(FULL_ENV)
    env.check()
    assert config.service == "identity"
    assert config.mongo_url == FULL_ENV["LETHE_MONGO_URL"]
    assert config.amqp_url == FULL_ENV["LETHE_AMQP_URL"]
    assert config.subject_pepper == "pepper-for-tests"
    assert config.mongo_db == "lethe_identity"
    assert (config.grpc_port, config.api_metrics_port, config.worker_metrics_port) == (50051, 9101, 9201)
    assert config.log_level == "INFO"
    assert config.queue_type == "classic"
    assert (config.smtp_host, config.smtp_port) == ("127.0.0.1", 2525)
    assert config.consumer_max_attempts == 5
    assert config.shutdown_grace_seconds == 5.0


def test_load_common_reads_per_service_overrides() -> None:
    env, config = _load(
        {
            **FULL_ENV,
            "IDENTITY_GRPC_PORT": "6001",
            "IDENTITY_API_METRICS_PORT": "6002",
            "IDENTITY_WORKER_METRICS_PORT": "6003",
            "IDENTITY_MONGO_DB": "custom_db",
            "CONSENT_GRPC_PORT": "7001",
            "LETHE_LOG_LEVEL": "debug",
            "LETHE_QUEUE_TYPE": "quorum",
            "LETHE_OUTBOX_GRACE_SECONDS": "0.5",
        }
    )
    env.check()
    assert (config.grpc_port, config.api_metrics_port, config.worker_metrics_port) == (6001, 6002, 6003)
    assert config.mongo_db == "custom_db"
    assert config.log_level == "DEBUG"
    assert config.queue_type == "quorum"
    assert config.outbox_publish_grace_seconds == 0.5


def test_load_common_reports_a_bad_port_and_a_missing_secret_together() -> None:
    environ = {k: v for k, v in FULL_ENV.items() if k != "LETHE_SUBJECT_PEPPER"}
    env, _ = _load({**environ, "IDENTITY_GRPC_PORT": "fifty"})
    with pytest.raises(ConfigError) as caught:
        env.check()
    assert "IDENTITY_GRPC_PORT" in str(caught.value)
    assert "LETHE_SUBJECT_PEPPER" in str(caught.value)


def test_unknown_log_level_is_reported_at_start_up() -> None:
    """An unknown level passes the config and only crashes later in configure_logging."""
    env, _ = _load({**FULL_ENV, "LETHE_LOG_LEVEL": "verbose"})
    with pytest.raises(ConfigError, match="LETHE_LOG_LEVEL"):
        env.check()


def test_bounded_int_names_the_range_it_wants() -> None:
    env = Env({"A": "5", "B": "0", "C": "11"})
    assert env.bounded_int("A", 1, 1, 10) == 5
    assert env.bounded_int("MISSING", 3, 1, 10) == 3
    env.bounded_int("B", 1, 1, 10)
    env.bounded_int("C", 1, 1, 10)
    with pytest.raises(ConfigError) as raised:
        env.check()
    assert "B must be between 1 and 10" in str(raised.value)
    assert "C must be between 1 and 10" in str(raised.value)
