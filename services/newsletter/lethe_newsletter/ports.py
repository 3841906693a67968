"""What the newsletter's domain needs from the consent service (a gRPC client in
production: :mod:`lethe_newsletter.consent_client`)."""

from __future__ import annotations

from typing import Protocol


class ConsentRecorder(Protocol):
    def current_version(self) -> str: ...

    def grant(self, account_id: str, email: str, name: str, version: str, client_address: str) -> str: ...

    def withdraw(self, account_id: str, email: str) -> None: ...
