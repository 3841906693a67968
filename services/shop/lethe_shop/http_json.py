"""JSON over HTTP to the providers outside Lethe (payment, supplier), with the standard library."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class ProviderUnavailable(RuntimeError):
    """The provider did not answer, or answered 5xx: the call may be repeated (same key)."""


def call(
    method: str,
    url: str,
    api_key: str,
    timeout: float,
    body: dict[str, Any] | None = None,
    idempotency_key: str = "",
) -> tuple[int, dict[str, Any]]:
    """The status and JSON object the provider answered; ProviderUnavailable if it did not."""
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - configured URL
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except OSError:
        raise ProviderUnavailable("the provider did not answer") from None
    if status >= 500:
        raise ProviderUnavailable(f"the provider answered {status}")
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        raise ProviderUnavailable("the provider's answer is not JSON") from None
    return status, answer if isinstance(answer, dict) else {}


def error_code(answer: dict[str, Any]) -> str:
    error = answer.get("error")
    return str(error.get("code", "")) if isinstance(error, dict) else ""
