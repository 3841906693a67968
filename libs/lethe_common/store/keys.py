"""``_id`` keys that sort the way they are read.

A key is parts joined by ``/``; a part never contains ``/``. Every document whose
key starts with ``a/b/`` is found by one range (:func:`under`), which the store
serves from its ``_id`` index, and comes back sorted by the rest of the key. A time
in a key is written with a fixed width (:func:`timekey`), so keys sort by time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

SEP = "/"
# The character after SEP: every key under "a/" is >= "a/" and < "a0".
_AFTER_SEP = chr(ord(SEP) + 1)


def key(*parts: str) -> str:
    """Join ``parts`` into one key; a part must be non-empty and hold no ``/``."""
    for part in parts:
        if not part or SEP in part:
            raise ValueError(f"a key part must be non-empty and hold no {SEP!r}: {part!r}")
    return SEP.join(parts)


def under(*parts: str) -> dict[str, Any]:
    """The ``_id`` condition of every key that starts with ``parts`` and a ``/``."""
    prefix = key(*parts)
    return {"$gte": prefix + SEP, "$lt": prefix + _AFTER_SEP}


def last_part(doc_id: str) -> str:
    return doc_id.rsplit(SEP, 1)[-1]


def timekey(moment: datetime) -> str:
    """A UTC time as 27 characters that sort as the times do (microseconds)."""
    if moment.tzinfo is None:
        raise ValueError("timekey needs an aware datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_timekey(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def seqkey(number: int) -> str:
    """A step number as 8 digits, so steps sort by number."""
    if not 0 <= number < 10**8:
        raise ValueError("step numbers go from 0 to 99,999,999")
    return f"{number:08d}"
