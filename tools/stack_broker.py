"""The dev stack's broker users: one per service, each with least privilege.

``tools/stack.py`` calls :func:`set_up_users` once its broker runs and its vhost exists: every
backend gets a user of its own with the permissions of ``lethe_common.events.permissions``
on the stack's vhost, and every ``<source>.events`` exchange is declared, as the broker set-up
of a deployment does (``python -m lethe_common.events.broker_setup``). One
``rabbitmqctl import_definitions`` does it all (each rabbitmqctl call starts an Erlang VM).

Imported only when a broker is set up, so that ``stack.py env`` needs nothing but the stdlib.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
import tempfile
from pathlib import Path

from lethe_common.events.permissions import EVENT_SOURCES, events_exchange_name, permissions


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64(salt + sha256(salt + password))."""
    salt = salt if salt is not None else secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def definitions(
    vhost: str, users: dict[str, tuple[str, str]], *, queue_prefix: str = "", any_queue_prefix: bool = False
) -> dict[str, object]:
    """Broker definitions: ``users`` (service -> (user, password)) with their permissions on
    ``vhost``, and every service's events exchange."""
    return {
        "users": [
            {
                "name": user,
                "password_hash": password_hash(password),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": [],
            }
            for user, password in users.values()
        ],
        "permissions": [
            {
                "user": user,
                "vhost": vhost,
                **permissions(service, queue_prefix, any_queue_prefix=any_queue_prefix).as_dict(),
            }
            for service, (user, _) in users.items()
        ],
        "exchanges": [
            {
                "name": events_exchange_name(source),
                "vhost": vhost,
                "type": "topic",
                "durable": True,
                "auto_delete": False,
                "internal": False,
                "arguments": {},
            }
            for source in EVENT_SOURCES
        ],
    }


def set_up_users(
    ctl: list[str],
    ctl_env: dict[str, str],
    folder: Path,
    vhost: str,
    users: dict[str, tuple[str, str]],
    *,
    queue_prefix: str = "",
    any_queue_prefix: bool = False,
) -> str | None:
    """Create or update the users, their permissions and the exchanges through ``ctl``
    (rabbitmqctl with its node); return what went wrong, or None."""
    document = definitions(vhost, users, queue_prefix=queue_prefix, any_queue_prefix=any_queue_prefix)
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="definitions-", suffix=".json", dir=folder)  # mode 0600
    try:
        with os.fdopen(fd, "w") as file:
            json.dump(document, file)
        done = subprocess.run([*ctl, "import_definitions", name], env=ctl_env, capture_output=True, text=True)
    finally:
        Path(name).unlink(missing_ok=True)
    if done.returncode != 0:
        return (done.stderr or done.stdout).strip()[:300] or f"exit code {done.returncode}"
    return None
