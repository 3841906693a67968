"""What the identity service accepts from callers, and what it says when it refuses."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lethe_common import tokens
from lethe_common.errors import InvalidArgument
from lethe_identity import validation

pytestmark = pytest.mark.unit  # needs no stack: `make unit` runs these

HEX32 = "0123456789abcdef" * 2


def _refused(call: Callable[[str], str], value: str) -> str:
    """The message of the InvalidArgument the call raises; it never repeats the value."""
    with pytest.raises(InvalidArgument) as caught:
        call(value)
    assert caught.value.kind == "invalid_argument"
    if value.strip():
        assert value.strip() not in caught.value.message
    return caught.value.message


# --- e-mail -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Jane.Doe@Example.COM", "jane.doe@example.com"),
        ("  jane.doe@example.com  ", "jane.doe@example.com"),
        ("\tJANE.DOE@EXAMPLE.COM\n", "jane.doe@example.com"),
        ("jose\u0301@example.com", "jos\u00e9@example.com"),  # NFC: one way to write é
        ("a@b.co", "a@b.co"),
    ],
)
def test_email_is_normalised(raw: str, normalised: str) -> None:
    assert validation.email(raw) == normalised


@pytest.mark.parametrize(
    "value",
    [
        "jane.doe.example.com",  # no @
        "jane@doe@example.com",  # two @
        "jane.doe@localhost",  # no dot in the domain
        "jane.doe@example.",  # empty last label
        "jane.doe@.example.com",  # empty first label
        "jane doe@example.com",  # space in the local part
        "jane.doe@exa mple.com",  # space in the domain
        "@example.com",  # empty local part
        "jane.doe@",  # empty domain
        "j" * 65 + "@example.com",  # local part longer than 64
    ],
)
def test_invalid_email_is_refused_without_repeating_it(value: str) -> None:
    assert _refused(validation.email, value) == "email is not a valid e-mail address"


def test_an_address_of_254_characters_is_accepted_and_255_refused() -> None:
    longest = "a" * 64 + "@" + "b" * 63 + "." + "b" * 63 + "." + "b" * 57 + ".com"
    assert len(longest) == 254
    assert validation.email(longest) == longest
    too_long = "a" * 64 + "@" + "b" * 63 + "." + "b" * 63 + "." + "b" * 58 + ".com"
    assert len(too_long) == 255
    assert _refused(validation.email, too_long) == "email is not a valid e-mail address"
    assert (
        _refused(validation.email, "a" * 64 + "@" + "b" * 400 + ".com")
        == "email is not a valid e-mail address"
    )


@pytest.mark.parametrize("value", ["", "   ", "\t\n"])
def test_email_is_required(value: str) -> None:
    assert _refused(validation.email, value) == "email is required"


def test_email_messages_name_the_field_asked_for() -> None:
    with pytest.raises(InvalidArgument) as caught:
        validation.email("not-an-address", "new_email")
    assert caught.value.message == "new_email is not a valid e-mail address"


@pytest.mark.parametrize(
    "value",
    [
        "jane\x00doe@example.com",  # NUL
        "jane\x7fdoe@example.com",  # DEL
        "jane\u200b@example.com",  # zero-width space: looks exactly like jane@example.com
        "jane\u202e@example.com",  # right-to-left override
    ],
)
def test_email_with_control_or_invisible_characters_is_refused(value: str) -> None:
    assert _refused(validation.email, value) == "email is not a valid e-mail address"


def test_email_domain_is_what_follows_the_last_at() -> None:
    assert validation.email_domain("jane.doe@sub.example.com") == "sub.example.com"


# --- name -------------------------------------------------------------------------------------


def test_name_is_trimmed() -> None:
    assert validation.name("  Jane Doe ") == "Jane Doe"
    assert validation.name("Zoë Ångström-Łukasiewicz") == "Zoë Ångström-Łukasiewicz"


@pytest.mark.parametrize("value", ["", "   ", "\t"])
def test_name_is_required(value: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        validation.name(value)
    assert caught.value.message == "name is required"


def test_name_may_be_200_characters_but_not_201() -> None:
    assert validation.name("n" * 200) == "n" * 200
    assert validation.name(" " + "n" * 200 + " ") == "n" * 200
    assert _refused(validation.name, "n" * 201) == "name may be at most 200 characters long"


@pytest.mark.parametrize(
    "value",
    [
        "Jane\x00Doe",
        "Jane\x1b[31mDoe",
        "Jane\x7fDoe",
        "Jane\nDoe",
        "Jane\tDoe",
        "Jane\rDoe",
        "Jane\u202eeoD",
        "Jane\u200bDoe",
    ],
)
def test_name_with_control_characters_is_refused(value: str) -> None:
    assert _refused(validation.name, value) == "name contains characters that are not allowed"


# --- phone ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "   "])
def test_phone_is_optional(value: str) -> None:
    assert validation.phone(value) == ""


@pytest.mark.parametrize(
    "value",
    [
        "+49 30 1234567",
        "030 1234567",
        "030/1234567",
        "030-123-4567",
        "+1.555.123.4567",
        "+49 (0)30 1234567",
        "12345",
    ],
)
def test_phone_accepts_the_usual_formats(value: str) -> None:
    assert validation.phone(f" {value} ") == value


def test_phone_in_parentheses_first_is_accepted() -> None:
    # The message promises "digits, spaces and + ( ) . / - only"; "(030) 123-4567" is just that.
    assert validation.phone("(030) 123-4567") == "(030) 123-4567"


@pytest.mark.parametrize(
    "value", ["+49 30 CALL ME", "030 1234567 ext 5", "call me", "1234", "+49 30 1234567\n0", "030_1234567"]
)
def test_phone_with_letters_or_other_characters_is_refused(value: str) -> None:
    message = _refused(validation.phone, value)
    assert message.startswith("phone must be a phone number")


# --- consent version --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "version"),
    [
        ("2026-01", "2026-01"),
        (" 2026-01 ", "2026-01"),
        ("v1.2_rc-3", "v1.2_rc-3"),
        ("a" * 32, "a" * 32),
    ],
)
def test_consent_version_is_accepted_and_trimmed(raw: str, version: str) -> None:
    assert validation.consent_version(raw) == version


@pytest.mark.parametrize("value", ["", "   ", "-2026", ".2026", "a" * 33, "2026 01", "2026/01", "2026-01;x"])
def test_bad_consent_version_is_refused(value: str) -> None:
    message = _refused(validation.consent_version, value)
    assert message.startswith("account_consent_version must be")


# --- domain -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("example.com", "example.com"),
        (" Example.COM ", "example.com"),
        ("example.com.", "example.com"),
        ("sub.my-company.co.uk", "sub.my-company.co.uk"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ],
)
def test_domain_is_normalised(raw: str, normalised: str) -> None:
    assert validation.domain(raw) == normalised


@pytest.mark.parametrize(
    "value",
    [
        "localhost",  # one label
        "",
        "-bad.com",  # label starts with a dash
        "bad-.com",  # label ends with a dash
        "exa_mple.com",  # underscore
        "example..com",  # empty label
        "jane@example.com",  # an address, not a domain
        "exa mple.com",
        "a" * 64 + ".com",  # label longer than 63
        ".".join(["a" * 60] * 5),  # longer than 253
        "exa\n.com",  # a newline inside
    ],
)
def test_bad_domain_is_refused(value: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        validation.domain(value)
    assert caught.value.message == "domains must be e-mail domains such as example.com"


# --- object ids -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["acc_" + HEX32, "cr_" + HEX32, "orgs_" + HEX32, tokens.new_id("acc"), tokens.new_id("org")]
)
def test_object_id_accepts_our_ids_unchanged(value: str) -> None:
    assert validation.object_id(value, "account_id") == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "acc_" + HEX32[:-1],  # 31 hex digits
        "acc_" + HEX32 + "0",  # 33
        "acc_" + HEX32.upper(),
        "ACC_" + HEX32,
        "a_" + HEX32,  # prefix too short
        "accts_" + HEX32,  # prefix too long
        "acc-" + HEX32,
        "acc_" + HEX32[:-1] + "g",
        " acc_" + HEX32,
        "acc_" + HEX32 + " ",
        "acc_" + HEX32 + "\n",
        "{'$ne': null}",
    ],
)
def test_object_id_refuses_anything_else(value: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        validation.object_id(value, "account_id")
    assert caught.value.message == "account_id is not a valid id"
