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
from lethe_shop.order_book import OrderBook
from lethe_shop.orders import Orders
from lethe_shop.payment import SandboxProvider
from lethe_shop.repository import ShopRepository
from lethe_shop.retention import Retention, RetentionRules
from lethe_shop.staff import StaffOrders


@dataclass(frozen=True)
class ShopParts:
    repo: ShopRepository
    catalogue: Catalogue
    carts: Carts
    orders: Orders
    staff: StaffOrders
    downloads: Downloads
    retention: Retention
    erasure: ShopErasure
    fulfilment: Fulfilment


def build_parts(runtime: Runtime, config: ShopConfig) -> ShopParts:
    repo = ShopRepository(runtime.db, runtime.outbox)
    rules = RetentionRules(config.invoice_retention_years, config.letter_retention_years)
    catalogue = Catalogue(repo, config.downloads_dir)
    provider = SandboxProvider(
        config.payment_url, config.payment_api_key, config.payment_webhook_secret, config.http_timeout_seconds
    )
    book = OrderBook(repo, provider)
    audit_days = config.common.audit_retention_days
    erasure = ShopErasure(
        repo, book, ReceiptSender(runtime.db, runtime.outbox, SERVICE), timedelta(days=audit_days)
    )
    supplier = Supplier(
        config.supplier_name, config.supplier_url, config.supplier_api_key, config.http_timeout_seconds
    )
    return ShopParts(
        repo,
        catalogue,
        Carts(repo, catalogue),
        Orders(repo, book, catalogue, provider, notify_url=config.payment_notify_url),
        StaffOrders(repo, book, rules, order_closed=erasure.finish_waiting),
        Downloads(
            repo, config.downloads_dir, config.download_key, timedelta(minutes=config.download_link_minutes)
        ),
        Retention(repo, book, audit_days),
        erasure,
        Fulfilment(repo, book, supplier, rules, config.download_entitlement_days),
    )
