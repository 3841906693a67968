"""The shop service's configuration, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lethe_common.config import CommonConfig, Env, load_common
from lethe_common.signing import derive_key

SERVICE = "shop"
PAYMENT_NOTIFICATION_PATH = "/api/v1/payments/notifications"  # the gateway route


@dataclass(frozen=True)
class ShopConfig:
    common: CommonConfig
    public_url: str
    # Where the provider posts its notifications; by default the public URL's route. A
    # deployment whose provider reaches the gateway by another name sets it.
    payment_notify_url: str
    # The payment provider: its API, our secret key there, the secret its notifications
    # are signed with. Card data never reaches the shop, only the provider's token.
    payment_url: str
    payment_api_key: str
    payment_webhook_secret: str
    # The supplier physical goods are handed to, and our key there.
    supplier_url: str
    supplier_api_key: str
    supplier_name: str
    downloads_dir: Path
    # Key for download links; from SHOP_DOWNLOAD_LINK_SECRET, else derived from the pepper.
    download_key: bytes
    download_link_minutes: int
    download_entitlement_days: int
    # Retention after the end of the calendar year: invoices and booking documents (HGB
    # §257(1) nos. 1 and 4, AO §147: 8 years since 2025) and business letters (6 years).
    invoice_retention_years: int
    letter_retention_years: int
    seed_catalogue: bool
    sweep_interval_seconds: float
    http_timeout_seconds: float


def _secret(env: Env, name: str) -> str:
    value = env.str(name, "")
    if not value:
        env.problem(f"{name} is required (the dev stack generates one in var/secrets/)")
    return value


def _download_key(env: Env, pepper: str) -> bytes:
    secret = env.str("SHOP_DOWNLOAD_LINK_SECRET", "")
    if secret and len(secret) < 32:
        env.problem("SHOP_DOWNLOAD_LINK_SECRET must be at least 32 characters long")
    source = secret or pepper
    return derive_key(source, "shop-download") if source else b""


def load_config() -> ShopConfig:
    env = Env()
    common = load_common(SERVICE, env, grpc_port=50053, api_metrics_port=9103, worker_metrics_port=9203)
    public_url = env.str("LETHE_PUBLIC_URL", "http://127.0.0.1:8080").rstrip("/")
    config = ShopConfig(
        common=common,
        public_url=public_url,
        payment_notify_url=env.str("SHOP_PAYMENT_NOTIFY_URL", public_url + PAYMENT_NOTIFICATION_PATH),
        payment_url=env.str("SHOP_PAYMENT_URL", "http://127.0.0.1:8090").rstrip("/"),
        payment_api_key=_secret(env, "SHOP_PAYMENT_API_KEY"),
        payment_webhook_secret=_secret(env, "SHOP_PAYMENT_WEBHOOK_SECRET"),
        supplier_url=env.str("SHOP_SUPPLIER_URL", "http://127.0.0.1:8091").rstrip("/"),
        supplier_api_key=_secret(env, "SHOP_SUPPLIER_API_KEY"),
        supplier_name=env.str("SHOP_SUPPLIER_NAME", "Sandbox Logistics (fake supplier)"),
        downloads_dir=Path(env.str("SHOP_DOWNLOADS_DIR", "var/downloads")).resolve(),
        download_key=_download_key(env, common.subject_pepper),
        download_link_minutes=env.bounded_int("SHOP_DOWNLOAD_LINK_MINUTES", 15, 1, 24 * 60),
        download_entitlement_days=env.bounded_int("SHOP_DOWNLOAD_ENTITLEMENT_DAYS", 365, 1, 36500),
        invoice_retention_years=env.bounded_int("SHOP_RETENTION_INVOICE_YEARS", 8, 1, 30),
        letter_retention_years=env.bounded_int("SHOP_RETENTION_LETTER_YEARS", 6, 1, 30),
        seed_catalogue=env.bool("SHOP_SEED_CATALOGUE", True),
        sweep_interval_seconds=env.float("SHOP_SWEEP_INTERVAL_SECONDS", 60.0),
        http_timeout_seconds=env.float("SHOP_HTTP_TIMEOUT_SECONDS", 10.0),
    )
    env.check()
    return config
