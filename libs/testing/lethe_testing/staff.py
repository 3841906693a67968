"""Staff assertions for tests that call a service's staff RPCs directly, as the gateway
would after identity authenticated a staff session (lethe_common.staff).

The stack's environment holds identity's signing key (``IDENTITY_STAFF_SIGNING_KEY``,
made by tools/stack.py), so a test can sign what identity would. A *forged* call is one
without this metadata, with a made-up assertion, or signed by another key.
"""

from __future__ import annotations

import os
import time

from lethe_common.staff import ADMIN, METADATA_KEY, AssertionSigner, new_signing_key

Metadata = tuple[tuple[str, str], ...]


def assertion(account_id: str, *roles: str, password_at: float | None = None, key: str = "") -> str:
    """A staff assertion for ``account_id`` holding ``roles`` (admin if none are named)."""
    signer = AssertionSigner(key or os.environ["IDENTITY_STAFF_SIGNING_KEY"])
    entered = time.time() if password_at is None else password_at
    return signer.sign(account_id, roles or (ADMIN,), entered)


def staff_metadata(account_id: str, *roles: str, password_at: float | None = None) -> Metadata:
    """gRPC metadata of a staff call for ``account_id`` with ``roles`` (admin if none)."""
    return ((METADATA_KEY, assertion(account_id, *roles, password_at=password_at)),)


def forged_metadata(account_id: str, *roles: str) -> Metadata:
    """An assertion signed with a key identity does not hold: every service must refuse it."""
    return ((METADATA_KEY, assertion(account_id, *roles, key=new_signing_key())),)
