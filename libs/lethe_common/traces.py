"""Finding what is left of a person after an erasure (issue 14, proof of erasure).

The verifier looks for a person by five identifiers: the e-mail address (any case), the
name, the phone digits, the account id and the subject key. It must be able to look again
months later, when nothing holds the address, name or phone in clear any more, so it never
needs them: it is given

- the subject key, which *is* the keyed hash of the address: every e-mail-like token of a
  text is hashed under the same pepper and compared with it;
- fingerprints of the name and of the phone digits, keyed hashes too, which the service
  that held them put in its receipt (:func:`name_fingerprint`, :func:`phone_fingerprint`);
  every run of as many words, and every run of eight digits, is hashed and compared;
- the account id and the subject key themselves, looked for as they are (ids, not
  personal data in clear).

So one pass over a text hashes each candidate once, whoever is sought: the cost follows
the text, not the number of people sought. A trace names its place, never the value.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from lethe_common.subject import normalise_email

EMAIL_TOKEN = re.compile(r"[^\s@\"'<>(),;:/\[\]{}\\=&?]+@[^\s@\"'<>(),;:/\[\]{}\\=&?]+\.[^\W\d_]{2,}")
WORD = re.compile(r"\w+")
DIGIT_RUN = re.compile(r"\d(?:[\s\-/().]?\d)+")
PHONE_DIGITS = 8  # the last eight digits: the same number written +49 30 … or 030 …
NAME_MAX_WORDS = 6
HEX_RUN = re.compile(r"[0-9a-f]{64,}")
ID_TOKEN = re.compile(r"[a-z]{2,4}_[0-9a-f]{32}")
SEEN_LIMIT = 200_000

EMAIL = "e-mail address"
NAME = "name"
PHONE = "phone number"
ACCOUNT_ID = "account id"
SUBJECT_KEY = "subject key"


def _digest(pepper: str, kind: str, value: str) -> str:
    """A keyed BLAKE2b (one C call: the search hashes every run of words and digits)."""
    return hashlib.blake2b(f"{kind}:{value}".encode(), key=pepper.encode()[:64], digest_size=32).hexdigest()


def _words(text: str) -> list[str]:
    return WORD.findall(unicodedata.normalize("NFC", text).casefold())


def name_fingerprint(pepper: str, name: str) -> str:
    """``name:<words>:<keyed hash>`` of a name, or "" for one too short or too long to seek."""
    words = _words(name)
    if not words or len(words) > NAME_MAX_WORDS or len("".join(words)) < 3:
        return ""
    return f"name:{len(words)}:{_digest(pepper, 'name', ' '.join(words))}"


def phone_fingerprint(pepper: str, phone: str) -> str:
    """``phone:<keyed hash>`` of a phone number's last eight digits ("" with fewer)."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < PHONE_DIGITS:
        return ""
    return f"phone:{_digest(pepper, 'phone', digits[-PHONE_DIGITS:])}"


def fingerprints(pepper: str, *, names: Iterable[str] = (), phones: Iterable[str] = ()) -> tuple[str, ...]:
    """The fingerprints of a person's names and phone numbers, each once, none empty."""
    found = [name_fingerprint(pepper, n) for n in names if n] + [
        phone_fingerprint(pepper, p) for p in phones if p
    ]
    return tuple(dict.fromkeys(f for f in found if f))


FINGERPRINT = re.compile(r"(name:[1-9]:|phone:)[0-9a-f]{64}")


@dataclass(frozen=True)
class Sought:
    """One person to look for, by the erasure request that asked to forget them."""

    request_id: str
    subject_key: str
    account_id: str = ""
    fingerprints: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hit:
    """Who was found (by their request) and by which identifier."""

    request_id: str
    what: str


@dataclass(frozen=True)
class Trace:
    """One identifier of one sought person at one place.

    ``source`` is ``store``, ``queue`` or ``log``; ``collection`` is the collection (store),
    the queue or the log file; ``place`` is where exactly, with any identifier masked."""

    request_id: str
    source: str
    collection: str
    place: str
    what: str
    # A store hit: whether the service's data inventory declares that field of that
    # collection as one that can hold personal data (queues and logs: never).
    declared: bool = False


class TraceFinder:
    """Looks for every sought person at once in texts and documents."""

    def __init__(self, pepper: str, sought: Iterable[Sought]) -> None:
        self._pepper = pepper
        self._literals: dict[str, Hit] = {}
        self._emails: dict[str, str] = {}
        self._fingerprints: dict[str, str] = {}
        self._name_lengths: set[int] = set()
        for person in sought:
            if person.subject_key:
                self._literals[person.subject_key.lower()] = Hit(person.request_id, SUBJECT_KEY)
                self._emails[person.subject_key.lower()] = person.request_id
            if person.account_id:
                self._literals[person.account_id.lower()] = Hit(person.request_id, ACCOUNT_ID)
            for mark in person.fingerprints:
                if FINGERPRINT.fullmatch(mark):
                    self._fingerprints[mark] = person.request_id
                    if mark.startswith("name:"):
                        self._name_lengths.add(int(mark.split(":")[1]))
        self._min_words = min(self._name_lengths, default=0)
        self._seen: dict[str, frozenset[Hit]] = {}

    def in_text(self, text: str) -> frozenset[Hit]:
        """Everyone sought whom ``text`` names, and by what (a text seen before: from memory,
        as stores repeat the same values over and over)."""
        known = self._seen.get(text)
        if known is None:
            known = frozenset(self._search(text))
            if len(self._seen) >= SEEN_LIMIT:
                self._seen.clear()
            self._seen[text] = known
        return known

    def _search(self, text: str) -> set[Hit]:
        hits: set[Hit] = set()
        lowered = text.lower()
        if self._literals:
            hits.update(self._literal_hits(lowered))
        hits.update(self._email_hits(text))
        if "%40" in lowered:
            hits.update(self._email_hits(unquote(text)))
        if self._fingerprints:
            hits.update(self._name_hits(text))
            hits.update(self._phone_hits(text))
        return hits

    def _literal_hits(self, lowered: str) -> Iterator[Hit]:
        """The ids as they are: every 64-hex window of a hex run, every account-id-shaped token
        (set lookups, whoever is sought)."""
        for run in HEX_RUN.findall(lowered):
            for start in range(len(run) - 63):
                hit = self._literals.get(run[start : start + 64])
                if hit is not None:
                    yield hit
        for token in ID_TOKEN.findall(lowered):
            for start in range(len(token) - 34):  # "xacc_..." holds "acc_..."
                hit = self._literals.get(token[start:])
                if hit is not None:
                    yield hit

    def _email_hits(self, text: str) -> Iterator[Hit]:
        if "@" not in text:
            return
        for token in EMAIL_TOKEN.findall(text):
            key = hmac.new(self._pepper.encode(), normalise_email(token).encode(), hashlib.sha256).hexdigest()
            if key in self._emails:
                yield Hit(self._emails[key], EMAIL)

    def _name_hits(self, text: str) -> Iterator[Hit]:
        if not self._name_lengths or (self._min_words > 1 and not any(c.isspace() for c in text)):
            return
        words = _words(text)
        for n in self._name_lengths:
            for start in range(len(words) - n + 1):
                mark = f"name:{n}:{_digest(self._pepper, 'name', ' '.join(words[start : start + n]))}"
                if mark in self._fingerprints:
                    yield Hit(self._fingerprints[mark], NAME)

    def _phone_hits(self, text: str) -> Iterator[Hit]:
        for run in DIGIT_RUN.findall(text):
            digits = re.sub(r"\D", "", run)
            for start in range(len(digits) - PHONE_DIGITS + 1):
                mark = f"phone:{_digest(self._pepper, 'phone', digits[start : start + PHONE_DIGITS])}"
                if mark in self._fingerprints:
                    yield Hit(self._fingerprints[mark], PHONE)

    def mask(self, text: str) -> str:
        """``text`` with every sought id and e-mail-like token replaced by what it is."""
        lowered = text.lower()
        for needle, hit in self._literals.items():
            if needle in lowered:
                lowered = lowered.replace(needle, f"<{hit.what}>")
        return EMAIL_TOKEN.sub(f"<{EMAIL}>", lowered)

    def in_document(self, doc: Any, path: str = "") -> Iterator[tuple[str, Hit]]:
        """Every (dotted path, hit) in a document, at any depth, in keys and values."""
        if isinstance(doc, str):
            for hit in self.in_text(doc):
                yield path, hit
        elif isinstance(doc, Mapping):
            for name, value in doc.items():
                inner = f"{path}.{name}" if path else str(name)
                for hit in self.in_text(str(name)):
                    yield inner, hit
                yield from self.in_document(value, inner)
        elif isinstance(doc, (list, tuple)):
            for n, value in enumerate(doc):
                yield from self.in_document(value, f"{path}.{n}" if path else str(n))
