"""Demo data for the dev stack: a small catalogue and the files its downloads offer.

Runs at the API's start when ``SHOP_SEED_CATALOGUE`` is on (the default) and
adds only what is missing, by sku, so staff changes to demo products stay.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from lethe_common.errors import AlreadyExists
from lethe_shop.catalogue import Catalogue

log = logging.getLogger(__name__)

DEMO_FILES = {
    "lethe-analyzer-3.2-linux-x86_64.tar.gz": b"Lethe Analyzer 3.2 (demo archive)\n" * 64,
    "lethe-feed-2026-11.csv": b"date,metric,value\n2026-11-01,requests,1024\n2026-11-02,requests,998\n",
}
DEMO_PRODUCTS: list[tuple[str, dict[str, Any]]] = [
    (
        "LETHE-KEY-01",
        {
            "name": "Hardware licence key (USB)",
            "kind": "physical",
            "description": "A USB key holding one site licence.",
            "price_cents": 4900,
            "currency": "EUR",
            "vat_rate_bp": 1900,
            "term_months": 0,
            "files": [],
            "active": True,
        },
    ),
    (
        "LETHE-MANUAL",
        {
            "name": "Administrator's manual (print)",
            "kind": "physical",
            "description": "Printed and bound, 240 pages.",
            "price_cents": 2900,
            "currency": "EUR",
            "vat_rate_bp": 700,
            "term_months": 0,
            "files": [],
            "active": True,
        },
    ),
    (
        "LETHE-ANALYZER-32",
        {
            "name": "Lethe Analyzer 3.2 for Linux",
            "kind": "download",
            "description": "Perpetual licence, download of the 3.2 release.",
            "price_cents": 19900,
            "currency": "EUR",
            "vat_rate_bp": 1900,
            "term_months": 0,
            "active": True,
            "files": ["lethe-analyzer-3.2-linux-x86_64.tar.gz"],
        },
    ),
    (
        "LETHE-FEED-12M",
        {
            "name": "Lethe data feed, 12 months",
            "kind": "subscription",
            "description": "Monthly data files for a year.",
            "price_cents": 99000,
            "currency": "EUR",
            "vat_rate_bp": 1900,
            "term_months": 12,
            "active": True,
            "files": ["lethe-feed-2026-11.csv"],
        },
    ),
]


def write_demo_files(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in DEMO_FILES.items():
        if not (folder / name).exists():
            (folder / name).write_bytes(content)


def seed_catalogue(catalogue: Catalogue, folder: Path) -> int:
    """Add the demo products that are missing; how many were added."""
    write_demo_files(folder)
    added = 0
    for sku, fields in DEMO_PRODUCTS:
        try:
            catalogue.create(sku, fields)
            added += 1
        except AlreadyExists:
            pass
    log.info("demo catalogue seeded", extra={"added": added})
    return added
