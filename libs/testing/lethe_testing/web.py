"""A web client of the gateway, as the portal's pages are."""

from __future__ import annotations

from typing import Any

from lethe_testing.maildir import token_in, wait_for_mail


class Browser:
    """A web client of the gateway that keeps cookies and sends the CSRF header, as the
    portal's pages do."""

    def __init__(self, base_url: str, **headers: str) -> None:
        import httpx

        self.http = httpx.Client(base_url=base_url, timeout=30, headers=headers)

    def _csrf(self) -> dict[str, str]:
        token = self.http.cookies.get("lethe_csrf")
        return {"X-CSRF-Token": token} if token else {}

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self._csrf(), **kwargs.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def current_version(self, purpose: str) -> str:
        texts = self.get("/api/v1/consent-texts").json()
        return str(next(t["version"] for t in texts if t["purpose"] == purpose))

    def sign_up(self, email: str, password: str, name: str = "Ada Lovelace") -> dict[str, Any]:
        """Register, verify from the Maildir and log in; returns the profile."""
        registered = self.post(
            "/api/v1/accounts",
            json={
                "email": email,
                "password": password,
                "name": name,
                "account_consent_version": self.current_version("account"),
            },
        )
        assert registered.status_code == 201, registered.text
        token = token_in(wait_for_mail(email, "verification"))
        verified = self.post("/api/v1/accounts/verify", json={"token": token, "password": password})
        assert verified.status_code == 200, verified.text
        logged_in = self.post("/api/v1/session", json={"email": email, "password": password})
        assert logged_in.status_code == 200, logged_in.text
        return dict(logged_in.json())

    def close(self) -> None:
        self.http.close()
