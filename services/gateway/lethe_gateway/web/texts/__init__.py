"""The portal's texts, one module per area (``common``, and one for each group of pages),
each a ``TEXTS`` dict of language -> key -> text; keys are prefixed by their area."""

from __future__ import annotations

import importlib
import pkgutil


def merged() -> dict[str, dict[str, str]]:
    """Every module's texts, by language; a key defined twice is a mistake and fails."""
    texts: dict[str, dict[str, str]] = {"en": {}, "de": {}}
    for module in pkgutil.iter_modules(__path__):
        part: dict[str, dict[str, str]] = importlib.import_module(f"{__name__}.{module.name}").TEXTS
        for lang, entries in part.items():
            twice = texts[lang].keys() & entries.keys()
            if twice:
                raise RuntimeError(f"text keys defined twice: {sorted(twice)}")
            texts[lang].update(entries)
    return texts
