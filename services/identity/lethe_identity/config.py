"""The identity service's configuration, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from lethe_common.config import CommonConfig, Env, load_common
from lethe_common.staff import verify_key_of
from lethe_common.subject import normalise_email

SERVICE = "identity"

# Keycloak's argon2 defaults (its Argon2PasswordHashProviderFactory): argon2id,
# 5 iterations, 7168 KiB, parallelism 1, 32-byte hash. Ours may only be stronger.
KEYCLOAK_MIN_TIME_COST = 5
KEYCLOAK_MIN_MEMORY_KIB = 7168


@dataclass(frozen=True)
class Argon2Settings:
    time_cost: int
    memory_kib: int
    parallelism: int


@dataclass(frozen=True)
class IdentityConfig:
    common: CommonConfig
    public_url: str
    admin_emails: frozenset[str]
    argon2: Argon2Settings
    password_min_length: int
    verification_ttl_minutes: int
    password_reset_ttl_minutes: float
    password_reset_mails_per_address: int
    password_reset_window_seconds: int
    # Mails anyone can cause (registration, resend, e-mail change, "address in use"):
    # per target address and per client address (account_mails.py).
    account_mails_per_address: int
    account_mail_window_seconds: int
    account_mails_per_client: int
    account_mail_client_window_seconds: int
    mail_threads: int
    session_idle_minutes: int
    session_absolute_hours: int
    remember_me_days: int
    login_max_failures_per_account: int
    login_max_failures_per_address: int
    login_window_seconds: int
    contact_max_per_address: int
    contact_window_seconds: int
    contact_retention_days: int
    sweep_interval_seconds: float
    # Signs the staff assertion (lethe_common.staff); its verify key is LETHE_STAFF_VERIFY_KEY.
    staff_signing_key: str


def _staff_signing_key(env: Env, verify_key: str) -> str:
    """``IDENTITY_STAFF_SIGNING_KEY``: required, and it must match ``LETHE_STAFF_VERIFY_KEY``."""
    value = env.str("IDENTITY_STAFF_SIGNING_KEY")
    if not value:
        return value
    try:
        matches = verify_key_of(value) == verify_key.lower()
    except ValueError:
        env.problem("IDENTITY_STAFF_SIGNING_KEY must be 64 hex digits")
        return value
    if not matches:
        env.problem("IDENTITY_STAFF_SIGNING_KEY does not belong to LETHE_STAFF_VERIFY_KEY")
    return value


def _argon2(env: Env) -> Argon2Settings:
    settings = Argon2Settings(
        time_cost=env.int("IDENTITY_ARGON2_TIME_COST", 5),
        memory_kib=env.int("IDENTITY_ARGON2_MEMORY_KIB", 19456),
        parallelism=env.int("IDENTITY_ARGON2_PARALLELISM", 1),
    )
    if settings.time_cost < KEYCLOAK_MIN_TIME_COST:
        env.problem(f"IDENTITY_ARGON2_TIME_COST must be at least {KEYCLOAK_MIN_TIME_COST}")
    if settings.memory_kib < KEYCLOAK_MIN_MEMORY_KIB:
        env.problem(f"IDENTITY_ARGON2_MEMORY_KIB must be at least {KEYCLOAK_MIN_MEMORY_KIB}")
    if settings.parallelism < 1:
        env.problem("IDENTITY_ARGON2_PARALLELISM must be at least 1")
    return settings


def _positive(env: Env, name: str, default: int) -> int:
    value = env.int(name, default)
    if value < 1:
        env.problem(f"{name} must be at least 1")
    return value


def _at_least_zero(env: Env, name: str, default: int) -> int:
    value = env.int(name, default)
    if value < 0:
        env.problem(f"{name} must not be negative")
    return value


def _reset_ttl(env: Env) -> float:
    """Minutes a password-reset link works: above 0 (fractions for tests), a day at most."""
    value = env.float("IDENTITY_PASSWORD_RESET_TTL_MINUTES", 60.0)
    if not 0 < value <= 24 * 60:
        env.problem("IDENTITY_PASSWORD_RESET_TTL_MINUTES must be above 0 and at most 1440")
    return value


def load_config() -> IdentityConfig:
    env = Env()
    common = load_common(SERVICE, env, grpc_port=50051, api_metrics_port=9101, worker_metrics_port=9201)
    config = IdentityConfig(
        common=common,
        public_url=env.str("LETHE_PUBLIC_URL", "http://127.0.0.1:8080").rstrip("/"),
        admin_emails=frozenset(normalise_email(e) for e in env.list("IDENTITY_ADMIN_EMAILS")),
        argon2=_argon2(env),
        password_min_length=max(10, env.int("IDENTITY_PASSWORD_MIN_LENGTH", 10)),
        verification_ttl_minutes=_positive(env, "IDENTITY_VERIFICATION_TTL_MINUTES", 24 * 60),
        password_reset_ttl_minutes=_reset_ttl(env),
        password_reset_mails_per_address=_positive(env, "IDENTITY_PASSWORD_RESET_MAILS_PER_ADDRESS", 3),
        password_reset_window_seconds=_positive(env, "IDENTITY_PASSWORD_RESET_WINDOW_SECONDS", 3600),
        account_mails_per_address=_positive(env, "IDENTITY_ACCOUNT_MAILS_PER_ADDRESS", 10),
        account_mail_window_seconds=_positive(env, "IDENTITY_ACCOUNT_MAIL_WINDOW_SECONDS", 24 * 3600),
        account_mails_per_client=_positive(env, "IDENTITY_ACCOUNT_MAILS_PER_CLIENT", 30),
        account_mail_client_window_seconds=_positive(
            env, "IDENTITY_ACCOUNT_MAIL_CLIENT_WINDOW_SECONDS", 3600
        ),
        mail_threads=_positive(env, "IDENTITY_MAIL_THREADS", 1),
        session_idle_minutes=_positive(env, "IDENTITY_SESSION_IDLE_MINUTES", 30),
        session_absolute_hours=_positive(env, "IDENTITY_SESSION_ABSOLUTE_HOURS", 12),
        remember_me_days=_positive(env, "IDENTITY_REMEMBER_ME_DAYS", 30),
        login_max_failures_per_account=_positive(env, "IDENTITY_LOGIN_MAX_FAILURES_PER_ACCOUNT", 10),
        login_max_failures_per_address=_positive(env, "IDENTITY_LOGIN_MAX_FAILURES_PER_ADDRESS", 50),
        login_window_seconds=_positive(env, "IDENTITY_LOGIN_WINDOW_SECONDS", 900),
        contact_max_per_address=_positive(env, "IDENTITY_CONTACT_MAX_PER_ADDRESS", 5),
        contact_window_seconds=_positive(env, "IDENTITY_CONTACT_WINDOW_SECONDS", 3600),
        contact_retention_days=_at_least_zero(env, "IDENTITY_CONTACT_RETENTION_DAYS", 90),
        sweep_interval_seconds=env.float("IDENTITY_SWEEP_INTERVAL_SECONDS", 300.0),
        staff_signing_key=_staff_signing_key(env, common.staff_verify_key),
    )
    env.check()
    return config
