"""The identity service's own configuration, read from a controlled environment."""

from __future__ import annotations

import pytest

from lethe_common.config import ConfigError
from lethe_common.staff import verify_key_of
from lethe_identity.config import Argon2Settings, IdentityConfig, load_config

pytestmark = pytest.mark.unit  # needs no stack: `make unit` runs these


def test_the_staff_keys_are_required_and_must_belong_together(env: pytest.MonkeyPatch) -> None:
    env.setenv("LETHE_STAFF_VERIFY_KEY", verify_key_of("2e" * 32))
    with pytest.raises(ConfigError, match="does not belong to LETHE_STAFF_VERIFY_KEY"):
        load_config()
    env.setenv("IDENTITY_STAFF_SIGNING_KEY", "not hex")
    with pytest.raises(ConfigError, match="IDENTITY_STAFF_SIGNING_KEY must be 64 hex digits"):
        load_config()
    env.delenv("IDENTITY_STAFF_SIGNING_KEY")
    with pytest.raises(ConfigError, match="IDENTITY_STAFF_SIGNING_KEY is required"):
        load_config()


def test_defaults(env: pytest.MonkeyPatch) -> None:
    config = load_config()
    assert isinstance(config, IdentityConfig)
    assert config.argon2 == Argon2Settings(time_cost=5, memory_kib=19456, parallelism=1)
    assert config.remember_me_days == 30
    assert config.login_max_failures_per_account == 10
    assert config.login_max_failures_per_address == 50
    assert config.login_window_seconds == 900
    assert config.password_min_length == 10
    assert config.session_idle_minutes == 30
    assert config.session_absolute_hours == 12
    assert config.verification_ttl_minutes == 24 * 60
    assert config.admin_emails == frozenset()
    assert config.public_url == "http://127.0.0.1:8080"


def test_the_shared_part_is_the_identity_services(env: pytest.MonkeyPatch) -> None:
    common = load_config().common
    assert (common.service, common.mongo_db) == ("identity", "lethe_identity")
    assert (common.grpc_port, common.api_metrics_port, common.worker_metrics_port) == (50051, 9101, 9201)
    assert (common.mongo_url, common.amqp_url, common.subject_pepper) == (
        "mongodb://127.0.0.1:1",
        "amqp://x",
        "pepper-for-tests",
    )


def test_admin_emails_are_normalised(env: pytest.MonkeyPatch) -> None:
    env.setenv("IDENTITY_ADMIN_EMAILS", " Boss@Example.com , second.ADMIN@example.org,,")
    assert load_config().admin_emails == frozenset({"boss@example.com", "second.admin@example.org"})


def test_a_single_admin_email_is_normalised(env: pytest.MonkeyPatch) -> None:
    env.setenv("IDENTITY_ADMIN_EMAILS", " Boss@Example.com ")
    assert load_config().admin_emails == frozenset({"boss@example.com"})


def test_public_url_loses_its_trailing_slash(env: pytest.MonkeyPatch) -> None:
    env.setenv("LETHE_PUBLIC_URL", "https://portal.example.com/")
    assert load_config().public_url == "https://portal.example.com"


def test_stronger_argon2_parameters_are_taken(env: pytest.MonkeyPatch) -> None:
    env.setenv("IDENTITY_ARGON2_TIME_COST", "7")
    env.setenv("IDENTITY_ARGON2_MEMORY_KIB", "65536")
    env.setenv("IDENTITY_ARGON2_PARALLELISM", "2")
    assert load_config().argon2 == Argon2Settings(time_cost=7, memory_kib=65536, parallelism=2)


def test_keycloaks_own_parameters_are_the_weakest_allowed(env: pytest.MonkeyPatch) -> None:
    env.setenv("IDENTITY_ARGON2_TIME_COST", "5")
    env.setenv("IDENTITY_ARGON2_MEMORY_KIB", "7168")
    assert load_config().argon2 == Argon2Settings(time_cost=5, memory_kib=7168, parallelism=1)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IDENTITY_ARGON2_TIME_COST", "4"),
        ("IDENTITY_ARGON2_MEMORY_KIB", "4096"),
        ("IDENTITY_ARGON2_MEMORY_KIB", "7167"),
        ("IDENTITY_ARGON2_PARALLELISM", "0"),
    ],
)
def test_argon2_parameters_weaker_than_keycloaks_stop_the_start(
    env: pytest.MonkeyPatch, name: str, value: str
) -> None:
    env.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert name in str(caught.value)


def test_every_weak_argon2_parameter_is_named_at_once(env: pytest.MonkeyPatch) -> None:
    env.setenv("IDENTITY_ARGON2_TIME_COST", "4")
    env.setenv("IDENTITY_ARGON2_MEMORY_KIB", "4096")
    with pytest.raises(ConfigError) as caught:
        load_config()
    message = str(caught.value)
    assert "IDENTITY_ARGON2_TIME_COST must be at least 5" in message
    assert "IDENTITY_ARGON2_MEMORY_KIB must be at least 7168" in message


def test_a_non_numeric_argon2_parameter_stops_the_start(env: pytest.MonkeyPatch) -> None:
    env.setenv("IDENTITY_ARGON2_MEMORY_KIB", "lots")
    with pytest.raises(ConfigError, match="IDENTITY_ARGON2_MEMORY_KIB"):
        load_config()


@pytest.mark.parametrize(("value", "expected"), [("6", 10), ("0", 10), ("-3", 10), ("10", 10), ("16", 16)])
def test_password_min_length_is_never_below_10(env: pytest.MonkeyPatch, value: str, expected: int) -> None:
    env.setenv("IDENTITY_PASSWORD_MIN_LENGTH", value)
    assert load_config().password_min_length == expected


@pytest.mark.parametrize(
    "name",
    ["IDENTITY_REMEMBER_ME_DAYS", "IDENTITY_LOGIN_MAX_FAILURES_PER_ACCOUNT", "IDENTITY_SESSION_IDLE_MINUTES"],
)
def test_limits_and_lifetimes_must_be_positive(env: pytest.MonkeyPatch, name: str) -> None:
    env.setenv(name, "0")
    with pytest.raises(ConfigError, match=f"{name} must be at least 1"):
        load_config()


def test_overridden_limits_are_taken(env: pytest.MonkeyPatch) -> None:
    env.setenv("IDENTITY_REMEMBER_ME_DAYS", "14")
    env.setenv("IDENTITY_LOGIN_MAX_FAILURES_PER_ACCOUNT", "3")
    config = load_config()
    assert (config.remember_me_days, config.login_max_failures_per_account) == (14, 3)


def test_a_missing_pepper_is_named(env: pytest.MonkeyPatch) -> None:
    env.delenv("LETHE_SUBJECT_PEPPER")
    with pytest.raises(ConfigError, match="LETHE_SUBJECT_PEPPER"):
        load_config()
