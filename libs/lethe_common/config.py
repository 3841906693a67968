"""Configuration from environment variables, read once, failing fast.

Every process builds one frozen config object at start-up through an
:class:`Env` reader. The reader collects every problem (a missing required
variable, a value of the wrong type) and raises them all at once, so a
misconfigured deployment is fixed in one round instead of one variable at a
time.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Mapping
from dataclasses import dataclass


class ConfigError(RuntimeError):
    """The environment does not describe a process that can start."""


class Env:
    """Typed reads of environment variables that remember what went wrong."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ
        self._problems: builtins.list[builtins.str] = []

    def _raw(self, name: builtins.str) -> builtins.str | None:
        value = self._environ.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def str(self, name: str, default: str | None = None) -> str:
        value = self._raw(name)
        if value is not None:
            return value
        if default is None:
            self._problems.append(f"{name} is required but not set")
            return ""
        return default

    def int(self, name: builtins.str, default: int | None = None) -> int:
        value = self._raw(name)
        if value is None:
            if default is None:
                self._problems.append(f"{name} is required but not set")
                return 0
            return default
        try:
            return int(value)
        except ValueError:
            self._problems.append(f"{name} must be a whole number, got {value!r}")
            return 0

    def bounded_int(
        self, name: builtins.str, default: builtins.int, low: builtins.int, high: builtins.int
    ) -> builtins.int:
        """A whole number from ``low`` to ``high`` (a problem otherwise)."""
        value = self.int(name, default)
        if not low <= value <= high:
            self._problems.append(f"{name} must be between {low} and {high}")
        return value

    def float(self, name: builtins.str, default: float) -> float:
        value = self._raw(name)
        if value is None:
            return default
        try:
            return float(value)
        except ValueError:
            self._problems.append(f"{name} must be a number, got {value!r}")
            return default

    def bool(self, name: builtins.str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        self._problems.append(f"{name} must be true or false, got {value!r}")
        return default

    def list(self, name: builtins.str, default: tuple[builtins.str, ...] = ()) -> tuple[builtins.str, ...]:
        value = self._raw(name)
        if value is None:
            return default
        return tuple(item.strip() for item in value.split(",") if item.strip())

    def choice(
        self, name: builtins.str, default: builtins.str, allowed: tuple[builtins.str, ...]
    ) -> builtins.str:
        value = self.str(name, default)
        if value not in allowed:
            self._problems.append(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        return value

    def problem(self, message: builtins.str) -> None:
        """Record a problem found by a caller's own check."""
        self._problems.append(message)

    def check(self) -> None:
        """Raise one :class:`ConfigError` naming every problem seen so far."""
        if self._problems:
            raise ConfigError("invalid configuration: " + "; ".join(self._problems))


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def log_level(env: Env) -> str:
    """``LETHE_LOG_LEVEL``, checked at start-up rather than when logging is set up."""
    level = env.str("LETHE_LOG_LEVEL", "INFO").upper()
    if level not in LOG_LEVELS:
        env.problem(f"LETHE_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
    return level


@dataclass(frozen=True)
class CommonConfig:
    """What every service process needs, whatever the service.

    ``service`` is the service's name (``identity``, ``consent``...). It names
    the event exchange (``<service>.events``) and, after ``queue_prefix``, the
    consumer group whose queues all the service's workers share.
    """

    service: str
    mongo_url: str
    mongo_db: str
    amqp_url: str
    subject_pepper: str
    log_level: str
    bind_host: str
    grpc_port: int
    api_metrics_port: int
    worker_metrics_port: int
    outbox_publish_grace_seconds: float
    outbox_lease_seconds: float
    consumer_max_attempts: int
    consumer_retry_base_seconds: float
    queue_type: str
    queue_prefix: str
    smtp_host: str
    smtp_port: int
    mail_from: str
    shutdown_grace_seconds: float
    # An API's NOT_SERVING time before it refuses new calls (Kubernetes: endpoints drain).
    shutdown_drain_seconds: float
    processed_retention_days: int
    # Identity's public key: checks the staff assertion on every staff call (staff.py).
    staff_verify_key: str
    # How long the staff audit trail keeps an entry (audit.py): 3 years by default.
    audit_retention_days: int


def staff_verify_key(env: Env) -> str:
    """``LETHE_STAFF_VERIFY_KEY``: 64 hex digits, identity's Ed25519 public key."""
    value = env.str("LETHE_STAFF_VERIFY_KEY", "")
    if len(value) != 64 or any(c not in "0123456789abcdefABCDEF" for c in value):
        env.problem(
            "LETHE_STAFF_VERIFY_KEY must be identity's staff verify key, 64 hex digits "
            "(python -m lethe_common.staff prints a signing key and its verify key)"
        )
    return value


def load_common(
    service: str, env: Env, *, grpc_port: int, api_metrics_port: int, worker_metrics_port: int
) -> CommonConfig:
    """Read the shared part of a service's configuration.

    Service-specific ports default per service; every one can be overridden
    with ``<SERVICE>_GRPC_PORT`` and so on. Secrets have no default.
    """
    prefix = service.upper()
    return CommonConfig(
        service=service,
        mongo_url=env.str("LETHE_MONGO_URL"),
        mongo_db=env.str(f"{prefix}_MONGO_DB", f"lethe_{service}"),
        amqp_url=env.str("LETHE_AMQP_URL"),
        subject_pepper=env.str("LETHE_SUBJECT_PEPPER"),
        log_level=log_level(env),
        bind_host=env.str("LETHE_BIND_HOST", "127.0.0.1"),
        grpc_port=env.int(f"{prefix}_GRPC_PORT", grpc_port),
        api_metrics_port=env.int(f"{prefix}_API_METRICS_PORT", api_metrics_port),
        worker_metrics_port=env.int(f"{prefix}_WORKER_METRICS_PORT", worker_metrics_port),
        outbox_publish_grace_seconds=env.float("LETHE_OUTBOX_GRACE_SECONDS", 10.0),
        outbox_lease_seconds=env.float("LETHE_OUTBOX_LEASE_SECONDS", 30.0),
        consumer_max_attempts=env.int("LETHE_CONSUMER_MAX_ATTEMPTS", 5),
        consumer_retry_base_seconds=env.float("LETHE_CONSUMER_RETRY_BASE_SECONDS", 1.0),
        queue_prefix=env.str("LETHE_QUEUE_PREFIX", ""),
        queue_type=env.choice("LETHE_QUEUE_TYPE", "classic", ("classic", "quorum")),
        smtp_host=env.str("LETHE_SMTP_HOST", "127.0.0.1"),
        smtp_port=env.int("LETHE_SMTP_PORT", 2525),
        mail_from=env.str("LETHE_MAIL_FROM", "Lethe <no-reply@lethe.invalid>"),
        shutdown_grace_seconds=env.float("LETHE_SHUTDOWN_GRACE_SECONDS", 5.0),
        shutdown_drain_seconds=env.float("LETHE_SHUTDOWN_DRAIN_SECONDS", 0.0),
        processed_retention_days=env.int("LETHE_PROCESSED_RETENTION_DAYS", 30),
        staff_verify_key=staff_verify_key(env),
        audit_retention_days=env.bounded_int("LETHE_AUDIT_RETENTION_DAYS", 3 * 365, 1, 36500),
    )
