"""The staff assertion: only identity's key makes one, and every service can tell."""

from __future__ import annotations

import time

import pytest

from lethe_common.errors import PermissionDenied
from lethe_common.staff import (
    ACCOUNTING,
    ADMIN,
    ASSERTION_TTL_SECONDS,
    MARKETING,
    METADATA_KEY,
    PRIVACY,
    SUPPORT,
    AssertionSigner,
    AssertionVerifier,
    holds,
    new_signing_key,
    require_recent_password,
    staff_call,
    verify_key_of,
)

pytestmark = pytest.mark.unit
KEY = new_signing_key()
SIGNER = AssertionSigner(KEY)
VERIFIER = AssertionVerifier(verify_key_of(KEY))
ACCOUNT = "acc_" + "1" * 32


class Context:
    def __init__(self, *metadata: tuple[str, str]) -> None:
        self._metadata = metadata

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata


def reason_of(call: object) -> str:
    with pytest.raises(PermissionDenied) as refused:
        call()  # type: ignore[operator]
    return refused.value.reason


def test_an_assertion_names_its_account_roles_and_password_time() -> None:
    entered = time.time() - 30
    actor = VERIFIER.require(SIGNER.sign(ACCOUNT, [PRIVACY, SUPPORT], entered), PRIVACY)
    assert (actor.account_id, actor.roles, int(actor.password_at)) == (
        ACCOUNT,
        (PRIVACY, SUPPORT),
        int(entered),
    )


@pytest.mark.parametrize(
    ("held", "allowed", "ok"),
    [
        ((SUPPORT,), (SUPPORT,), True),
        ((ACCOUNTING,), (SUPPORT,), False),
        ((ADMIN,), (MARKETING,), True),
        ((), (SUPPORT,), False),
        ((MARKETING, PRIVACY), (PRIVACY, ACCOUNTING), True),
    ],
)
def test_admin_holds_every_role_and_others_only_their_own(
    held: tuple[str, ...], allowed: tuple[str, ...], ok: bool
) -> None:
    assert holds(held, allowed) is ok
    assertion = SIGNER.sign(ACCOUNT, held, time.time())
    if ok:
        assert VERIFIER.require(assertion, *allowed).account_id == ACCOUNT
    else:
        assert reason_of(lambda: VERIFIER.require(assertion, *allowed)) == "staff_role_missing"


def test_another_key_an_altered_body_garbage_and_an_old_assertion_are_refused() -> None:
    good = SIGNER.sign(ACCOUNT, [SUPPORT], time.time())
    body, signature = good.split(".")
    promoted = SIGNER.sign(ACCOUNT, [ADMIN], time.time()).split(".")[0]
    forged = AssertionSigner(new_signing_key()).sign(ACCOUNT, [ADMIN], time.time())
    expired = SIGNER.sign(ACCOUNT, [ADMIN], time.time(), now=time.time() - ASSERTION_TTL_SECONDS - 5)
    for assertion in (forged, f"{promoted}.{signature}", "", "a.b", "x" * 5000, good + ".x", expired):
        assert reason_of(lambda a=assertion: VERIFIER.require(a, SUPPORT)) == "staff_assertion_invalid"
    assert VERIFIER.require(f"{body}.{signature}", SUPPORT).account_id == ACCOUNT


def test_a_staff_call_takes_the_actor_from_metadata_and_refuses_another_in_the_body() -> None:
    context = Context(("x-other", "1"), (METADATA_KEY, SIGNER.sign(ACCOUNT, [SUPPORT], time.time())))
    assert staff_call(VERIFIER, context, "", SUPPORT).account_id == ACCOUNT
    assert staff_call(VERIFIER, context, ACCOUNT, SUPPORT).account_id == ACCOUNT
    other = "acc_" + "2" * 32
    assert reason_of(lambda: staff_call(VERIFIER, context, other, SUPPORT)) == "staff_actor_mismatch"
    assert reason_of(lambda: staff_call(VERIFIER, Context(), ACCOUNT, SUPPORT)) == "staff_assertion_invalid"


def test_step_up_needs_the_password_within_ten_minutes() -> None:
    now = time.time()
    recent = VERIFIER.actor(SIGNER.sign(ACCOUNT, [ADMIN], now - 9 * 60), now)
    stale = VERIFIER.actor(SIGNER.sign(ACCOUNT, [ADMIN], now - 11 * 60), now)
    require_recent_password(recent, now)
    assert reason_of(lambda: require_recent_password(stale, now)) == "reauthentication_required"


def test_keys_must_be_32_bytes_of_hex() -> None:
    with pytest.raises(ValueError, match="64 hex digits"):
        AssertionSigner("abc")
    with pytest.raises(ValueError, match="64 hex digits"):
        AssertionVerifier("zz" * 32)
    assert len(verify_key_of(KEY)) == 64
