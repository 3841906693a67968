"""Staff roles and the staff assertion: who may call a service's staff RPCs.

Only the identity service knows who is staff. When it authenticates a staff member's
session it signs a short-lived *staff assertion* (account id, roles, when the password
was last entered, expiry) with its Ed25519 key. The gateway forwards it unchanged as
``lethe-staff-assertion`` metadata, and every service checks it with identity's public
key before a staff call does anything. So a call that did not come from a live staff
session is refused by the service that owns the data, whoever sent it: the gateway's own
checks are a convenience, not the barrier. No service but identity can make one (they
hold the public key only), and the gateway asks for a fresh one on every staff request,
so a revoked role stops working at once through the portal and within
``ASSERTION_TTL_SECONDS`` anywhere.

Wire form: ``<base64url(JSON claims)>.<base64url(signature)>``, the signature over
``lethe-staff-v1`` NUL and the first part.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lethe_common.errors import PermissionDenied

SUPPORT = "support"
PRIVACY = "privacy"
ACCOUNTING = "accounting"
MARKETING = "marketing"
ADMIN = "admin"
ROLES = (SUPPORT, PRIVACY, ACCOUNTING, MARKETING, ADMIN)
METADATA_KEY = "lethe-staff-assertion"
ASSERTION_TTL_SECONDS = 120
STEP_UP_SECONDS = 600  # a dangerous action needs the password entered this recently
_CONTEXT = b"lethe-staff-v1\x00"
_MAX_LENGTH = 600


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key_bytes(hex_key: str, what: str) -> bytes:
    try:
        raw = bytes.fromhex(hex_key)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ValueError(f"{what} must be 64 hex digits (32 bytes)")
    return raw


def verify_key_of(signing_key_hex: str) -> str:
    """The public (verify) key, in hex, that belongs to a signing key (its 32-byte seed, hex)."""
    private = Ed25519PrivateKey.from_private_bytes(_key_bytes(signing_key_hex, "the staff signing key"))
    return private.public_key().public_bytes_raw().hex()


def new_signing_key() -> str:
    """A fresh signing key, in hex: ``python -m lethe_common.staff`` prints one and its verify key."""
    return Ed25519PrivateKey.generate().private_bytes_raw().hex()


def holds(roles: Iterable[str], allowed: Iterable[str]) -> bool:
    """Whether someone with ``roles`` may do what any of ``allowed`` may; admin may do all."""
    held = set(roles)
    return ADMIN in held or bool(held & set(allowed))


@dataclass(frozen=True)
class StaffActor:
    """The staff member a call is made for, as the assertion says."""

    account_id: str
    roles: tuple[str, ...]
    password_at: float  # when they last entered their password, epoch seconds

    def entered_password_within(self, seconds: float, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) - self.password_at <= seconds


class AssertionSigner:
    """Identity's side: signs what it knows about a staff member's session."""

    def __init__(self, signing_key_hex: str) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(_key_bytes(signing_key_hex, "the staff signing key"))

    def sign(
        self, account_id: str, roles: Iterable[str], password_at: float, now: float | None = None
    ) -> str:
        issued = now if now is not None else time.time()
        claims = {
            "sub": account_id,
            "roles": sorted(set(roles)),
            "pwd": int(password_at),
            "exp": int(issued) + ASSERTION_TTL_SECONDS,
        }
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{body}.{_b64(self._key.sign(_CONTEXT + body.encode()))}"


class AssertionVerifier:
    """Every service's side: checks an assertion and says who it is for."""

    def __init__(self, verify_key_hex: str) -> None:
        self._key = Ed25519PublicKey.from_public_bytes(_key_bytes(verify_key_hex, "the staff verify key"))

    def actor(self, assertion: str, now: float | None = None) -> StaffActor:
        """The actor, or PermissionDenied when the assertion is missing, forged or expired."""
        claims = self._claims(assertion)
        if claims is None or claims["exp"] < (now if now is not None else time.time()):
            raise PermissionDenied("this is for staff only; log in again", reason="staff_assertion_invalid")
        return StaffActor(str(claims["sub"]), tuple(claims["roles"]), float(claims["pwd"]))

    def _claims(self, assertion: str) -> dict[str, Any] | None:
        if not assertion or len(assertion) > _MAX_LENGTH or assertion.count(".") != 1:
            return None
        body, signature = assertion.split(".")
        try:
            self._key.verify(_unb64(signature), _CONTEXT + body.encode())
            claims = json.loads(_unb64(body))
        except (InvalidSignature, binascii.Error, ValueError):
            return None
        shape_ok = (
            isinstance(claims, dict)
            and isinstance(claims.get("sub"), str)
            and isinstance(claims.get("roles"), list)
            and all(isinstance(r, str) for r in claims["roles"])
            and all(isinstance(claims.get(k), int) for k in ("pwd", "exp"))
        )
        return claims if shape_ok else None

    def require(self, assertion: str, *allowed: str, now: float | None = None) -> StaffActor:
        """The actor if they hold one of ``allowed`` (or admin); PermissionDenied otherwise."""
        actor = self.actor(assertion, now)
        if not holds(actor.roles, allowed):
            names = " or ".join(allowed or (ADMIN,))
            raise PermissionDenied(f"this needs the {names} role", reason="staff_role_missing")
        return actor


def staff_call(verifier: AssertionVerifier, context: Any, body_actor_id: str, *allowed: str) -> StaffActor:
    """A staff RPC's check, in every service: the call's assertion names someone holding one
    of ``allowed``, and the request body names no one else (the actor is the assertion's)."""
    actor = verifier.require(assertion_of(context), *allowed)
    if body_actor_id and body_actor_id != actor.account_id:
        raise PermissionDenied("the acting account is not the one logged in", reason="staff_actor_mismatch")
    return actor


def require_recent_password(actor: StaffActor, now: float | None = None) -> None:
    """Step-up: dangerous actions need the password entered within ``STEP_UP_SECONDS``."""
    if not actor.entered_password_within(STEP_UP_SECONDS, now):
        raise PermissionDenied(
            "please enter your password again to do this", reason="reauthentication_required"
        )


def assertion_of(context: Any) -> str:
    """The staff assertion a gRPC call carries in its metadata, or ""."""
    for key, value in context.invocation_metadata() or ():
        if key == METADATA_KEY:
            return str(value)
    return ""


if __name__ == "__main__":  # pragma: no cover - an operator's tool
    key = new_signing_key()
    print(f"IDENTITY_STAFF_SIGNING_KEY={key}\nLETHE_STAFF_VERIFY_KEY={verify_key_of(key)}")
