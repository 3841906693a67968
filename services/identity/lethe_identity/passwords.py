"""Password policy and argon2id hashing.

The policy: at least ``min_length`` characters (10 at the least), at most
1024 (argon2 hashes anything, but nobody needs more and a megabyte password
should not cost us a megabyte of work), not the e-mail address, and not a
common password: the shipped list is compared with the password as typed and
with its decorations undone (case, trailing digits and symbols, common
letter-for-digit substitutions), so ``Passw0rd2024!`` counts as ``password``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from lethe_common.errors import InvalidArgument
from lethe_identity.config import Argon2Settings

MAX_LENGTH = 1024
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = resources.files("lethe_identity").joinpath("data/common_passwords.txt").read_text("utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


_DECORATION = re.compile(r"^[\d\W_]*$")


def _variants(password: str) -> set[str]:
    """The password as typed and undecorated: every cut of a word between decorations.

    A cut is where only digits and symbols lie before or after it, so
    ``L3th3-2025`` yields ``l3th3`` and, with substitutions undone, ``lethe``.
    """
    lowered = password.lower()
    found = {lowered, lowered.translate(_LEET)}
    n = len(lowered)
    # At most 16 cuts each way: a long all-digit password must not cost n² slices.
    starts = [i for i in range(min(n, 16)) if _DECORATION.match(lowered[:i])]
    ends = [j for j in range(max(1, n - 15), n + 1) if _DECORATION.match(lowered[j:])]
    for i in starts:
        for j in ends:
            if j - i >= 4:
                found.update({lowered[i:j], lowered[i:j].translate(_LEET)})
    return found


def is_common(password: str) -> bool:
    listed = common_passwords()
    if any(variant in listed for variant in _variants(password)):
        return True
    return len(set(password.lower())) <= 2  # "aaaaaaaaaa", "abababababab"


def check_password(password: str, *, email: str, min_length: int) -> None:
    """Raise InvalidArgument, saying what to change, unless the password is acceptable."""
    min_length = max(10, min_length)
    if len(password) < min_length:
        raise InvalidArgument(f"the password must be at least {min_length} characters long")
    if len(password) > MAX_LENGTH:
        raise InvalidArgument(f"the password may be at most {MAX_LENGTH} characters long")
    if password.strip().lower() == email.lower() or password.lower() == email.split("@")[0]:
        raise InvalidArgument("the password must not be your e-mail address")
    if is_common(password):
        raise InvalidArgument("this password is too common; choose one that is harder to guess")


class Passwords:
    """argon2id hashes with our parameters; verification in constant work for unknown users."""

    def __init__(self, settings: Argon2Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.time_cost,
            memory_cost=settings.memory_kib,
            parallelism=settings.parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        # Verified against when the address has no account, so that both answers
        # take an argon2 verification's time.
        self._decoy = self._hasher.hash("decoy password that matches nothing")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash or self._decoy, password) and bool(stored_hash)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)
