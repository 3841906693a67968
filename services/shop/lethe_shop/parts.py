"""The shop's domain wired together once, for the API and the worker alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from lethe_common.privacy import ReceiptSender
from lethe_common.runtime import Runtime
from lethe_shop.carts import Carts
from lethe_shop.catalogue import Catalogue
from lethe_shop.config import SERVICE, ShopConfig
from lethe_shop.downloads import Downloads
from lethe_shop.erasure import ShopErasure
from lethe_shop.fulfilment import Fulfilment, Supplier
from lethe_shop.orders import Orders
from lethe_shop.payment import SandboxProvider
from lethe_shop.repository import ShopRepository
from lethe_shop.retention import Retention, RetentionRules

PAYMENT_NOTIFICATION_PATH = "/api/v1/payments/notifications"


@dataclass(frozen=True)
class ShopParts:
    repo: ShopRepository
    catalogue: Catalogue
    carts: Carts
    orders: Orders
    downloads: Downloads
    retention: Retention
    erasure: ShopErasure
    fulfilment: Fulfilment


def build_parts(runtime: Runtime, config: ShopConfig) -> ShopParts:
    repo = ShopRepository(runtime.db, runtime.outbox)
    rules = RetentionRules(config.invoice_retention_years, config.letter_retention_years)
    catalogue = Catalogue(repo, config.downloads_dir)
    erasure = ShopErasure(repo, ReceiptSender(runtime.db, runtime.outbox, SERVICE))
    provider = SandboxProvider(config.payment_url, config.payment_api_key,
                               config.payment_webhook_secret, config.http_timeout_seconds)
    orders = Orders(repo, catalogue, provider, rules,
                    notify_url=config.public_url + PAYMENT_NOTIFICATION_PATH,
                    order_closed=erasure.finish_waiting)
    supplier = Supplier(config.supplier_name, config.supplier_url, config.supplier_api_key,
                        config.http_timeout_seconds)
    return ShopParts(
        repo, catalogue, Carts(repo, catalogue), orders,
        Downloads(repo, config.downloads_dir, config.download_key,
                  timedelta(minutes=config.download_link_minutes)),
        Retention(repo), erasure,
        Fulfilment(repo, supplier, rules, config.download_entitlement_days))
