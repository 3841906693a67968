"""Consent texts: one purpose, many versions, each immutable once published.

A purpose exists once it is in the store; new purposes come from staff
(``publish``) or from the seed file, never from code. A purpose's current
version is the one published last: each purpose keeps its publications as a
step log, so concurrent publications and seeds all land, in one order.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from lethe_common.audit import AuditRecord
from lethe_common.errors import AlreadyExists, InvalidArgument
from lethe_common.mongo import Document
from lethe_common.store.steps import Step
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
        raise InvalidArgument("version must be letters, digits, dots or dashes (at most 32), e.g. 2026-01")
    return value


def check_texts(texts: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """One title and body per language, German and English both required."""
    if set(texts) != set(LANGUAGES):
        raise InvalidArgument(
            "a consent text needs a German (de) and an English (en) version, and no other language"
        )
    checked = {}
    for language in LANGUAGES:
        entry = texts[language]
        body = entry.get("body", "").strip()
        if not body or len(body) > MAX_BODY or has_control_chars(body):
            raise InvalidArgument(f"the {language} body must be 1 to {MAX_BODY} characters of text")
        checked[language] = {
            "title": text(entry.get("title", ""), f"{language} title", max_length=MAX_TITLE),
            "body": body,
        }
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
        resources.files("lethe_consent").joinpath("data/purposes.json").read_text("utf-8")
    )
    return [
        SeedPurpose(p["purpose"], p["basis"], p["direct_marketing"], p.get("version", ""), p.get("texts", {}))
        for p in raw["purposes"]
    ]


class ConsentTexts:
    def __init__(self, repo: ConsentRepository) -> None:
        self._store = repo.texts
        self._audit = repo.audit

    def seed(self, now: datetime | None = None) -> int:
        """Give every seeded purpose its first text when it has none; returns how many were new.

        Safe to run from every process at once: a text is inserted under its unique key
        (an existing one is never replaced), and the purpose's first step is a unique
        insert that exactly one process wins; the others find it there and move on.
        """
        now = now or datetime.now(UTC)
        added = 0
        for seed in seed_purposes():
            if self._store.purpose(seed.purpose):
                continue
            if seed.version:
                self._store_text(seed.purpose, seed.version, check_texts(seed.texts), "seed", now)
            first = Step(
                {
                    "basis": seed.basis,
                    "direct_marketing": seed.direct_marketing,
                    "version": seed.version,
                    "at": now,
                    "by": "seed",
                }
            )
            added += self._store.log.append_after(seed.purpose, _first_only(first)) is not None
        return added

    def _store_text(
        self, purpose: str, version: str, texts: dict[str, dict[str, str]], actor: str, now: datetime
    ) -> bool:
        """Insert a text; when the version exists, True if it says the same."""
        if self._store.insert_text(
            {
                "_id": text_id(purpose, version),
                "purpose": purpose,
                "version": version,
                "texts": texts,
                "published_at": now,
                "published_by": actor,
            }
        ):
            return True
        existing = self._store.text(purpose, version)
        if existing is not None and existing["texts"] != texts:
            log.warning(
                "text differs from the published one; the published one stays",
                extra={"purpose": purpose, "version": version},
            )
            return False
        return True

    def purposes(self) -> list[PurposeView]:
        return [PurposeView.from_steps(name, steps) for name, steps in sorted(self._store.purposes().items())]

    def purpose(self, name: str) -> PurposeView:
        steps = self._store.purpose(check_purpose(name))
        if not steps:
            raise InvalidArgument(f"there is no purpose called {name}")
        return PurposeView.from_steps(name, steps)

    def consent_purpose(self, name: str) -> PurposeView:
        purpose = self.purpose(name)
        if purpose.basis != CONSENT_BASIS or not purpose.current_version:
            raise InvalidArgument(f"{name} is not processed on the basis of consent")
        return purpose

    def current(self) -> list[TextView]:
        purposes = [p for p in self.purposes() if p.basis == CONSENT_BASIS and p.current_version]
        by_purpose = {p.purpose: p for p in purposes}
        docs = self._store.texts((p.purpose, p.current_version) for p in purposes)
        return sorted((self._view(doc, by_purpose) for doc in docs), key=lambda t: t.purpose)

    def texts_for(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], TextView]:
        if not keys:
            return {}
        by_purpose = {p.purpose: p for p in self.purposes()}
        return {
            (doc["purpose"], doc["version"]): self._view(doc, by_purpose) for doc in self._store.texts(keys)
        }

    def has_text(self, purpose: str, version: str) -> bool:
        return bool(self._store.texts([(purpose, version)]))

    @staticmethod
    def _view(doc: dict[str, Any], by_purpose: dict[str, PurposeView]) -> TextView:
        purpose = by_purpose.get(doc["purpose"])
        return TextView(
            purpose=doc["purpose"],
            version=doc["version"],
            texts=doc["texts"],
            published_at=doc.get("published_at"),
            basis=purpose.basis if purpose else CONSENT_BASIS,
            direct_marketing=purpose.direct_marketing if purpose else False,
        )

    def publish(
        self,
        actor: str,
        purpose: str,
        version: str,
        texts: dict[str, dict[str, str]],
        direct_marketing: bool = False,
        now: datetime | None = None,
    ) -> TextView:
        """A new version becomes the current text at once; grants of older ones keep theirs.

        The text is inserted first, then appended to the purpose's log; the version
        appended last is current. A retry after a crash between the two (the same text
        again) finishes the publication instead of failing.
        """
        now = now or datetime.now(UTC)
        check_purpose(purpose)
        check_version(version)
        checked = check_texts(texts)
        steps = self._store.purpose(purpose)
        _check_consent_basis(purpose, steps)
        exists = AlreadyExists(
            "this version of the text is published already; "
            "a published text never changes, publish a new version"
        )
        if any(step.get("version") == version for step in steps) or not self._store_text(
            purpose, version, checked, actor, now
        ):
            raise exists

        def decide(current: list[Document]) -> Step | None:
            _check_consent_basis(purpose, current)
            if any(step.get("version") == version for step in current):
                raise exists
            fields: Document = {"version": version, "at": now, "by": actor}
            if not current:
                fields.update(basis=CONSENT_BASIS, direct_marketing=direct_marketing)
            return Step(fields)

        self._store.log.append_after(purpose, decide)
        log.info("consent text published", extra={"purpose": purpose, "version": version})
        # About no one: the text is the whole target.
        published = AuditRecord(actor, "consent_text.published", target=text_id(purpose, version))
        self._audit.record(published, now)
        view = PurposeView.from_steps(purpose, self._store.purpose(purpose))
        text_doc = self._store.text(purpose, version) or {}
        return TextView(
            purpose=purpose,
            version=version,
            texts=checked,
            published_at=text_doc.get("published_at", now),
            basis=CONSENT_BASIS,
            direct_marketing=view.direct_marketing,
        )


def _check_consent_basis(purpose: str, steps: list[Document]) -> None:
    if steps and steps[0].get("basis", CONSENT_BASIS) != CONSENT_BASIS:
        raise InvalidArgument(f"{purpose} is not processed on the basis of consent")


def _first_only(step: Step) -> Callable[[list[Document]], Step | None]:
    """Decide ``step`` only as the first step of a log (a seed never adds to a purpose)."""
    return lambda steps: None if steps else step
