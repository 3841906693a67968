"""The portal's web pages, rendered on the server (Jinja2) and working without JavaScript.

Each page calls the same route functions as the JSON API (``lethe_gateway.routes``), so no
rule lives twice; this package only turns forms into those calls and their answers and
errors into pages. Every module here named ``*_pages.py`` has a ``router`` of its pages;
texts live in ``texts/`` (one module per area), templates in ``templates/``, the one
stylesheet and script in ``static/``. Security headers for every response: ``headers.py``.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from fastapi import APIRouter

STATIC_DIR = Path(__file__).parent / "static"  # styles and the script, served at /static


def web_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.endswith("_pages")):
        router.include_router(importlib.import_module(f"{__name__}.{module}").router)
    return router
