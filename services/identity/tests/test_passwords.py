"""The password policy and the argon2id hashing, without a store or a broker."""

from __future__ import annotations

import re

import argon2
import pytest

from lethe_common.errors import InvalidArgument
from lethe_identity.config import Argon2Settings
from lethe_identity.passwords import MAX_LENGTH, Passwords, check_password, common_passwords, is_common

pytestmark = pytest.mark.unit  # needs no stack: `make unit` runs these

EMAIL = "margarethe.quist@example.com"
# Small but valid (Keycloak's minimum) parameters: fast where the test is not about them.
FAST = Argon2Settings(time_cost=5, memory_kib=7168, parallelism=1)
HASH_RE = re.compile(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$")
GOOD = "Tangerine-Quokka-Lamplight-42"


def _refusal(password: str, *, email: str = EMAIL, min_length: int = 10) -> str:
    with pytest.raises(InvalidArgument) as caught:
        check_password(password, email=email, min_length=min_length)
    assert caught.value.kind == "invalid_argument"
    assert password not in caught.value.message
    return caught.value.message


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords(FAST)


# --- check_password: length -------------------------------------------------------------------


def test_nine_characters_are_too_short_and_ten_are_enough() -> None:
    assert "at least 10 characters" in _refusal("Qx7!mZp2v")
    check_password("Qx7!mZp2vK", email=EMAIL, min_length=10)


def test_a_configured_higher_minimum_is_enforced() -> None:
    thirteen = "Quokka-Lamp-7"
    assert len(thirteen) == 13
    assert "at least 14 characters" in _refusal(thirteen, min_length=14)
    check_password(thirteen + "x", email=EMAIL, min_length=14)
    # The same 13 characters are fine under the default minimum.
    check_password(thirteen, email=EMAIL, min_length=10)


def _long_passphrase(length: int) -> str:
    words = "quokka lamplight tangerine harbour violet cobalt meadow"
    text = ""
    while len(text) < length:
        text += words + f" {len(text)} "
    return text[:length]


def test_exactly_1024_characters_are_accepted_and_1025_refused() -> None:
    assert MAX_LENGTH == 1024
    longest = _long_passphrase(1024)
    assert len(longest) == 1024
    check_password(longest, email=EMAIL, min_length=10)
    assert "at most 1024 characters" in _refusal(longest + "q")


def test_a_megabyte_password_is_refused() -> None:
    assert "at most 1024" in _refusal(_long_passphrase(1_000_000))


# --- check_password: the e-mail address -------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        "margarethe.quist@example.com",
        "Margarethe.Quist@Example.COM",
        "  margarethe.quist@example.com ",
    ],
)
def test_the_email_address_itself_is_refused(password: str) -> None:
    assert _refusal(password) == "the password must not be your e-mail address"


@pytest.mark.parametrize("password", ["margarethe.quist", "Margarethe.Quist", "MARGARETHE.QUIST"])
def test_the_local_part_of_the_email_address_is_refused(password: str) -> None:
    assert _refusal(password) == "the password must not be your e-mail address"


def test_another_persons_address_is_not_treated_as_yours() -> None:
    check_password("margarethe.quist", email="someone.else@example.com", min_length=10)


# --- check_password / is_common: common passwords ---------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        "Password2024!",
        "P@ssw0rd12345",
        "Passw0rd2024!",
        "L3th3-2025!!",
        "qwertzuiop",
        "QWERTZUIOP",
        "1234567890",
        "0123456789",
        "2024!!Password",
    ],
)
def test_common_and_decorated_common_passwords_are_refused(password: str) -> None:
    assert is_common(password) is True
    assert _refusal(password) == "this password is too common; choose one that is harder to guess"


@pytest.mark.parametrize(
    "password",
    [
        "qqqqqqqqqqqq",
        "zzzzzzzzzzzzzzzzzzzz",
        "xyxyxyxyxyxy",
        "XxXxXxXxXxXx",
        "98989898989898",
        "!?!?!?!?!?!?",
    ],
)
def test_one_or_two_repeated_characters_are_refused(password: str) -> None:
    assert is_common(password) is True
    assert "too common" in _refusal(password)


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",
        GOOD,
        "Lethe ships seven portals to Quokka Bay",
        "xqkxqkxqkxqk",  # three distinct characters: not caught by the repetition rule
    ],
)
def test_good_passphrases_are_accepted(password: str) -> None:
    assert is_common(password) is False
    check_password(password, email=EMAIL, min_length=10)


def test_the_shipped_list_is_loaded_lowercase_without_comments() -> None:
    listed = common_passwords()
    assert len(listed) > 1000
    assert {"password", "lethe", "qwertzuiop", "1234567890"} <= listed
    assert all(word == word.lower() and word == word.strip() for word in listed)
    assert not any(word.startswith("#") for word in listed)


def test_is_common_for_a_plain_listed_word_and_an_unlisted_one() -> None:
    assert is_common("password") is True
    assert is_common("PASSWORD") is True
    assert is_common("quokkalamplight") is False


# --- Passwords: hashing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        Argon2Settings(time_cost=5, memory_kib=19456, parallelism=1),  # the configured defaults
        Argon2Settings(time_cost=6, memory_kib=9216, parallelism=2),
    ],
)
def test_hashes_are_argon2id_with_the_configured_parameters(settings: Argon2Settings) -> None:
    stored = Passwords(settings).hash(GOOD)
    assert stored.startswith("$argon2id$")
    match = HASH_RE.match(stored)
    assert match is not None, stored
    memory, time_cost, parallelism = (int(match.group(i)) for i in (1, 2, 3))
    assert (memory, time_cost, parallelism) == (settings.memory_kib, settings.time_cost, settings.parallelism)
    # 16-byte salt and 32-byte hash, unpadded base64.
    assert (len(match.group(4)), len(match.group(5))) == (22, 43)


def test_the_same_password_hashes_differently_each_time(passwords: Passwords) -> None:
    first, second = passwords.hash(GOOD), passwords.hash(GOOD)
    assert first != second
    assert GOOD not in first
    assert passwords.verify(first, GOOD) is True
    assert passwords.verify(second, GOOD) is True


def test_verify_is_true_for_the_password_and_false_for_any_other(passwords: Passwords) -> None:
    stored = passwords.hash(GOOD)
    assert passwords.verify(stored, GOOD) is True
    assert passwords.verify(stored, GOOD.lower()) is False
    assert passwords.verify(stored, GOOD + " ") is False
    assert passwords.verify(stored, "") is False


def test_verify_without_a_stored_hash_is_false_and_does_not_raise(passwords: Passwords) -> None:
    assert passwords.verify(None, GOOD) is False
    assert passwords.verify("", GOOD) is False
    # Not even the decoy's own password opens an account that does not exist.
    assert passwords.verify(None, "decoy password that matches nothing") is False


def test_verify_without_a_stored_hash_still_does_an_argon2_verification(
    passwords: Passwords, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_verify = argon2.PasswordHasher.verify

    def counting(self: argon2.PasswordHasher, stored: str | bytes, password: str | bytes) -> bool:
        calls.append(str(stored))
        return real_verify(self, stored, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting)
    assert passwords.verify(None, GOOD) is False
    assert len(calls) == 1
    assert calls[0].startswith("$argon2id$")


@pytest.mark.parametrize(
    "garbage",
    [
        "garbage",
        "$argon2id$",
        "$argon2id$v=19$m=7168,t=5,p=1$AAAA$BBBB",
        "$2b$12$abcdefghijklmnopqrstuu5Y0lXyEYeG0lU7A2aV8w0lZK3nL1p7e",
        "5f4dcc3b5aa765d61d8327deb882cf99",
    ],
)
def test_a_garbage_hash_verifies_nothing(passwords: Passwords, garbage: str) -> None:
    assert passwords.verify(garbage, GOOD) is False


def test_a_tampered_hash_verifies_nothing(passwords: Passwords) -> None:
    stored = passwords.hash(GOOD)
    digest = stored.rsplit("$", 1)[1]
    tampered = stored[: -len(digest)] + ("A" if digest[0] != "A" else "B") + digest[1:]
    assert passwords.verify(tampered, GOOD) is False


# --- Passwords: rehashing ---------------------------------------------------------------------


def test_a_hash_made_with_weaker_older_parameters_needs_rehash(passwords: Passwords) -> None:
    older = argon2.PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1).hash(GOOD)
    assert passwords.verify(older, GOOD) is True
    assert passwords.needs_rehash(older) is True


def test_a_hash_made_with_the_current_parameters_needs_no_rehash(passwords: Passwords) -> None:
    assert passwords.needs_rehash(passwords.hash(GOOD)) is False
    assert passwords.needs_rehash(Passwords(FAST).hash(GOOD)) is False


def test_a_hash_made_before_the_parameters_were_raised_needs_rehash(passwords: Passwords) -> None:
    stronger = Passwords(Argon2Settings(time_cost=6, memory_kib=7168, parallelism=1))
    assert stronger.needs_rehash(passwords.hash(GOOD)) is True
