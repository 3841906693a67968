"""Set up the broker for Lethe through RabbitMQ's management HTTP API: the vhost, one user
per service with least privilege (``lethe_common.events.permissions``) and every
``<source>.events`` exchange. Idempotent: run it before the services start, and again after
any change (docker-compose: a one-shot service; Kubernetes: a Job).

    python -m lethe_common.events.broker_setup

Environment:

``LETHE_RABBITMQ_ADMIN_URL`` (required)
    The management API with an administrator's credentials, e.g.
    ``http://admin:secret@rabbitmq:15672`` (the management plugin must be enabled).
``LETHE_RABBITMQ_VHOST`` (default ``/``)
    The vhost the services use (the path of their ``LETHE_AMQP_URL``); created if missing.
``LETHE_AMQP_PASSWORD_<SERVICE>`` (required for each of IDENTITY, CONSENT, SHOP, NEWSLETTER)
    The password of that service's user, the same as in its ``LETHE_AMQP_URL``
    (``amqp://<user>:<password>@rabbitmq:5672/<vhost>``). Set again on every run.
``LETHE_AMQP_USER_<SERVICE>`` (default: the service's name)
    That service's user name; users are broker-wide, so two deployments on one broker need
    different names.
``LETHE_QUEUE_PREFIX`` (default empty)
    The services' queue prefix, if they are given one (their queues are ``<prefix><service>.*``).
``LETHE_BROKER_SETUP_WAIT_SECONDS`` (default 60)
    How long to wait for the management API to answer at all (the broker may be starting).

The administrator is given full permissions on the vhost if it has none there (declaring
the exchanges needs them). Exits 0 when everything is in place, 2 when the environment is
incomplete, 1 when the broker refused or did not answer, with the reason on stderr.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lethe_common.events.permissions import (
    BUS_SERVICES,
    EVENT_SOURCES,
    events_exchange_name,
    permissions,
    user_name,
)


class SetupError(Exception):
    """The broker refused a step or did not answer."""


@dataclass(frozen=True)
class Settings:
    api: str  # scheme://host:port, without credentials
    admin_user: str
    admin_password: str
    vhost: str
    users: dict[str, tuple[str, str]]  # service -> (user, password)
    queue_prefix: str
    wait_seconds: float


def settings_from_env(env: Mapping[str, str]) -> Settings:
    """The settings, or SystemExit(2) naming every problem at once."""
    problems = []
    admin_url = env.get("LETHE_RABBITMQ_ADMIN_URL", "")
    parsed = urllib.parse.urlsplit(admin_url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        problems.append(
            "LETHE_RABBITMQ_ADMIN_URL must be http(s)://user:password@host:port of the management API"
        )
    elif not parsed.username or parsed.password is None:
        problems.append("LETHE_RABBITMQ_ADMIN_URL must carry the administrator's user and password")
    users = {}
    for service in BUS_SERVICES:
        key = f"LETHE_AMQP_PASSWORD_{service.upper()}"
        password = env.get(key, "")
        if not password:
            problems.append(f"{key} is required")
        users[service] = (env.get(f"LETHE_AMQP_USER_{service.upper()}") or user_name(service), password)
    try:
        wait = float(env.get("LETHE_BROKER_SETUP_WAIT_SECONDS", "60"))
    except ValueError:
        problems.append("LETHE_BROKER_SETUP_WAIT_SECONDS must be a number of seconds")
        wait = 0.0
    prefix = env.get("LETHE_QUEUE_PREFIX", "")
    try:
        permissions(BUS_SERVICES[0], prefix)
    except ValueError as exc:
        problems.append(f"LETHE_QUEUE_PREFIX: {exc}")
    if problems:
        print("broker set-up: " + "; ".join(problems), file=sys.stderr)
        raise SystemExit(2)
    port = f":{parsed.port}" if parsed.port else ""
    return Settings(
        api=f"{parsed.scheme}://{parsed.hostname}{port}{parsed.path.rstrip('/')}",
        admin_user=urllib.parse.unquote(parsed.username or ""),
        admin_password=urllib.parse.unquote(parsed.password or ""),
        vhost=env.get("LETHE_RABBITMQ_VHOST", "/") or "/",
        users=users,
        queue_prefix=prefix,
        wait_seconds=wait,
    )


# (method, path, JSON body or None) -> (status, parsed JSON body or None)
Transport = Callable[[str, str, Any], tuple[int, Any]]


def http_transport(settings: Settings, timeout: float = 10.0) -> Transport:
    token = base64.b64encode(f"{settings.admin_user}:{settings.admin_password}".encode()).decode()

    def call(method: str, path: str, body: Any) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - the operator's management API
            settings.api + path,
            data=data,
            method=method,
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                return error.code, json.loads(raw) if raw else None
            except ValueError:
                return error.code, raw.decode(errors="replace")[:300]

    return call


def _q(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def plan(settings: Settings) -> list[tuple[str, str, dict[str, Any]]]:
    """The PUTs that make the broker as it should be, in order (each is idempotent)."""
    vhost = _q(settings.vhost)
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("vhost", f"/api/vhosts/{vhost}", {}),
    ]
    for service, (user, password) in settings.users.items():
        steps.append((f"user {user}", f"/api/users/{_q(user)}", {"password": password, "tags": ""}))
        steps.append(
            (
                f"permissions of {user}",
                f"/api/permissions/{vhost}/{_q(user)}",
                permissions(service, settings.queue_prefix).as_dict(),
            )
        )
    for source in EVENT_SOURCES:
        name = events_exchange_name(source)
        steps.append(
            (
                f"exchange {name}",
                f"/api/exchanges/{vhost}/{_q(name)}",
                {"type": "topic", "durable": True, "auto_delete": False, "internal": False, "arguments": {}},
            )
        )
    return steps


def _wait_for_api(settings: Settings, call: Transport, sleep: Callable[[float], None]) -> None:
    deadline = time.monotonic() + settings.wait_seconds
    while True:
        try:
            status, body = call("GET", "/api/overview", None)
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise SetupError(f"the management API at {settings.api} does not answer: {exc}") from exc
            sleep(2.0)
            continue
        if status == 401:
            raise SetupError(f"the management API refused the administrator's credentials (401): {body}")
        if status != 200:
            raise SetupError(f"GET /api/overview answered {status}: {body}")
        return


def set_up(settings: Settings, call: Transport, sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """Apply :func:`plan`; return what was done, one line a step; raise SetupError."""
    _wait_for_api(settings, call, sleep)
    done: list[str] = []
    steps = plan(settings)
    admin_permissions = f"/api/permissions/{_q(settings.vhost)}/{_q(settings.admin_user)}"
    for what, path, body in steps:
        if what.startswith("exchange ") and not any(line.startswith("admin") for line in done):
            # Declaring exchanges needs the administrator's permissions on the vhost.
            status, _ = call("GET", admin_permissions, None)
            if status == 404:
                _put(call, admin_permissions, {"configure": ".*", "write": ".*", "read": ".*"})
            done.append("admin permissions on the vhost")
        _put(call, path, body)
        done.append(what)
    return done


def _put(call: Transport, path: str, body: dict[str, Any]) -> None:
    try:
        status, answer = call("PUT", path, body)
    except OSError as exc:
        raise SetupError(f"PUT {path}: no answer: {exc}") from exc
    if status not in (200, 201, 204):
        raise SetupError(f"PUT {path} answered {status}: {answer}")


def main(env: Mapping[str, str] | None = None) -> int:
    settings = settings_from_env(os.environ if env is None else env)
    try:
        done = set_up(settings, http_transport(settings))
    except SetupError as exc:
        print(f"broker set-up failed: {exc}", file=sys.stderr)
        return 1
    users = ", ".join(user for user, _ in settings.users.values())
    print(f"broker set up: vhost {settings.vhost!r}, users {users}, {len(done)} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
