"""Consent texts: one purpose, many versions, each immutable once published.

A purpose exists once it is in the store; new purposes come from staff
(``publish``) or from the seed file, never from code. A purpose's current
version is the one published last.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from lethe_common.errors import InvalidArgument
from lethe_common.validation import has_control_chars, text
from lethe_consent.models import CONSENT_BASIS, LANGUAGES, PurposeView, TextView
from lethe_consent.repository import ConsentRepository, text_id

log = logging.getLogger(__name__)

PURPOSE_RE = re.compile(r"[a-z][a-z0-9_]{1,39}")
VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
MAX_TITLE = 200
MAX_BODY = 20_000
BASES = (CONSENT_BASIS, "legitimate_interest")


def check_purpose(value: str) -> str:
    if not PURPOSE_RE.fullmatch(value):
        raise InvalidArgument("purpose must be a lower-case word such as newsletter")
    return value


def check_version(value: str) -> str:
    if not VERSION_RE.fullmatch(value):
        raise InvalidArgument("version must be letters, digits, dots or dashes (at most 32), "
                              "e.g. 2026-01")
    return value


def check_texts(texts: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """One title and body per language, German and English both required."""
    if set(texts) != set(LANGUAGES):
        raise InvalidArgument("a consent text needs a German (de) and an English (en) version, "
                              "and no other language")
    checked = {}
    for language in LANGUAGES:
        entry = texts[language]
        body = entry.get("body", "").strip()
        if not body or len(body) > MAX_BODY or has_control_chars(body):
            raise InvalidArgument(f"the {language} body must be 1 to {MAX_BODY} characters of text")
        checked[language] = {"title": text(entry.get("title", ""), f"{language} title",
                                           max_length=MAX_TITLE), "body": body}
    return checked


@dataclass(frozen=True)
class SeedPurpose:
    purpose: str
    basis: str
    direct_marketing: bool
    version: str
    texts: dict[str, dict[str, str]]


def seed_purposes() -> list[SeedPurpose]:
    raw: dict[str, Any] = json.loads(
        resources.files("lethe_consent").joinpath("data/purposes.json").read_text("utf-8"))
    return [SeedPurpose(p["purpose"], p["basis"], p["direct_marketing"], p.get("version", ""),
                        p.get("texts", {})) for p in raw["purposes"]]


class ConsentTexts:
    def __init__(self, repo: ConsentRepository) -> None:
        self._repo = repo

    def seed(self, now: datetime | None = None) -> int:
        """Give every seeded purpose its first text when it has none; returns how many were new.

        Safe to run from every process at once: purposes and texts are inserted
        under unique keys, and an existing text is never replaced.
        """
        now = now or datetime.now(UTC)
        added = 0
        for seed in seed_purposes():
            if self._repo.purpose(seed.purpose) is not None:
                continue
            if seed.version:
                self._store_text(seed.purpose, seed.version, check_texts(seed.texts), "seed", now)
            added += self._repo.insert_purpose({
                "_id": seed.purpose, "basis": seed.basis, "direct_marketing": seed.direct_marketing,
                "current_version": seed.version, "created_at": now, "updated_at": now})
        return added

    def _store_text(self, purpose: str, version: str, texts: dict[str, dict[str, str]],
                    actor: str, now: datetime) -> None:
        existing = self._repo.text(purpose, version)
        if existing is not None:
            if existing["texts"] != texts:
                log.warning("seed text differs from the published one; the published one stays",
                            extra={"purpose": purpose, "version": version})
            return
        self._repo.insert_text({"_id": text_id(purpose, version), "purpose": purpose,
                                "version": version, "texts": texts, "published_at": now,
                                "published_by": actor})

    def purposes(self) -> list[PurposeView]:
        return [PurposeView.from_doc(doc) for doc in self._repo.purposes()]

    def purpose(self, name: str) -> PurposeView:
        doc = self._repo.purpose(check_purpose(name))
        if doc is None:
            raise InvalidArgument(f"there is no purpose called {name}")
        return PurposeView.from_doc(doc)

    def consent_purpose(self, name: str) -> PurposeView:
        purpose = self.purpose(name)
        if purpose.basis != CONSENT_BASIS or not purpose.current_version:
            raise InvalidArgument(f"{name} is not processed on the basis of consent")
        return purpose

    def current(self) -> list[TextView]:
        purposes = [p for p in self.purposes() if p.basis == CONSENT_BASIS and p.current_version]
        by_purpose = {p.purpose: p for p in purposes}
        docs = self._repo.texts((p.purpose, p.current_version) for p in purposes)
        return sorted((self._view(doc, by_purpose) for doc in docs), key=lambda t: t.purpose)

    def texts_for(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], TextView]:
        by_purpose = {p.purpose: p for p in self.purposes()}
        return {(doc["purpose"], doc["version"]): self._view(doc, by_purpose)
                for doc in self._repo.texts(keys)}

    @staticmethod
    def _view(doc: dict[str, Any], by_purpose: dict[str, PurposeView]) -> TextView:
        purpose = by_purpose.get(doc["purpose"])
        return TextView(purpose=doc["purpose"], version=doc["version"], texts=doc["texts"],
                        published_at=doc.get("published_at"),
                        basis=purpose.basis if purpose else CONSENT_BASIS,
                        direct_marketing=purpose.direct_marketing if purpose else False)

    def publish(self, actor: str, purpose: str, version: str, texts: dict[str, dict[str, str]],
                direct_marketing: bool = False, now: datetime | None = None) -> TextView:
        """A new version becomes the current text at once; grants of older ones keep theirs."""
        now = now or datetime.now(UTC)
        check_purpose(purpose)
        check_version(version)
        checked = check_texts(texts)
        existing = self._repo.purpose(purpose)
        if existing is not None and existing.get("basis", CONSENT_BASIS) != CONSENT_BASIS:
            raise InvalidArgument(f"{purpose} is not processed on the basis of consent")
        self._repo.insert_text({"_id": text_id(purpose, version), "purpose": purpose,
                                "version": version, "texts": checked, "published_at": now,
                                "published_by": actor})
        if existing is None:
            self._repo.insert_purpose({"_id": purpose, "basis": CONSENT_BASIS,
                                       "direct_marketing": direct_marketing,
                                       "current_version": version, "created_at": now,
                                       "updated_at": now})
        self._repo.set_current_version(purpose, version, now)
        log.info("consent text published", extra={"purpose": purpose, "version": version})
        doc = self._repo.purpose(purpose) or {}
        return TextView(purpose=purpose, version=version, texts=checked, published_at=now,
                        basis=CONSENT_BASIS, direct_marketing=bool(doc.get("direct_marketing")))
