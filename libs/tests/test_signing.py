"""Signed link tokens: nobody without the key makes or alters one."""

from __future__ import annotations

import pytest

from lethe_common.signing import BadSignature, derive_key, sign, verify

pytestmark = pytest.mark.unit  # needs no stack: `make unit` runs these

KEY = derive_key("a secret of at least thirty-two characters", "tests")


def test_a_token_carries_its_fields_for_its_purpose_only() -> None:
    token = sign(KEY, "confirm", ("sub_1", "42"))
    assert verify(KEY, "confirm", token, 2) == ("sub_1", "42")
    with pytest.raises(BadSignature):
        verify(KEY, "unsubscribe", token, 2)
    with pytest.raises(BadSignature):
        verify(derive_key("another secret of thirty-two characters", "tests"), "confirm", token, 2)
    with pytest.raises(BadSignature):
        verify(KEY, "confirm", token, 1)


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.replace("sub_1", "sub_2"),
        lambda t: t.replace(".42.", ".43."),
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: t + ".x",
        lambda t: t.split(".", 1)[1],
        lambda t: "",
        lambda t: "x" * 500,
    ],
)
def test_an_altered_token_is_refused(change: object) -> None:
    token = sign(KEY, "confirm", ("sub_1", "42"))
    with pytest.raises(BadSignature):
        verify(KEY, "confirm", change(token), 2)  # type: ignore[operator]


def test_fields_must_be_plain_ids_and_keys_differ_by_purpose() -> None:
    with pytest.raises(ValueError, match="fields"):
        sign(KEY, "confirm", ("a.b",))
    with pytest.raises(ValueError, match="fields"):
        sign(KEY, "confirm", ())
    assert derive_key("s" * 32, "newsletter") != derive_key("s" * 32, "downloads")
    with pytest.raises(ValueError):
        derive_key("", "newsletter")
